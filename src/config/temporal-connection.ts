import { readFileSync } from 'node:fs';
import type { Environment } from './environment';

/**
 * Connection settings shared by the worker (NativeConnection) and the CLI (Connection): plain TCP for the local
 * dev server, mTLS with TEMPORAL_TLS_CERT_PATH/KEY_PATH, or TLS with TEMPORAL_API_KEY for Temporal Cloud.
 */
export function temporalConnectionOptions(environment: Environment) {
  const clientCertPair =
    environment.TEMPORAL_TLS_CERT_PATH && environment.TEMPORAL_TLS_KEY_PATH
      ? {
          crt: readFileSync(environment.TEMPORAL_TLS_CERT_PATH),
          key: readFileSync(environment.TEMPORAL_TLS_KEY_PATH),
        }
      : undefined;
  return {
    address: environment.TEMPORAL_ADDRESS,
    tls: clientCertPair ? { clientCertPair } : environment.TEMPORAL_API_KEY ? true : undefined,
    apiKey: environment.TEMPORAL_API_KEY,
  };
}

export function unreachableTemporalMessage(environment: Environment): string {
  return (
    `Cannot reach Temporal at ${environment.TEMPORAL_ADDRESS} (TEMPORAL_ADDRESS, namespace ` +
    `${environment.TEMPORAL_NAMESPACE}): start the local stack with \`npm start\` or point TEMPORAL_ADDRESS at your cluster.`
  );
}
