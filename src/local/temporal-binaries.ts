import { existsSync } from 'node:fs';
import path from 'node:path';
import { execFileSync } from 'node:child_process';
import { projectRoot } from './project-root';

/**
 * Finds a Temporal binary the way scripts/setup-temporal.sh provides it: an explicit path in the environment,
 * then PATH, then the project-local install. Never downloads: tests and the local stack run offline.
 */
export function temporalBinary(name: 'temporal' | 'temporal-test-server'): string {
  const explicit = process.env[name === 'temporal' ? 'TEMPORAL_CLI_PATH' : 'TEMPORAL_TEST_SERVER_PATH'];
  if (explicit) return explicit;
  try {
    return execFileSync('sh', ['-c', `command -v ${name}`], { encoding: 'utf8' }).trim();
  } catch {
    const local = path.join(projectRoot(), '.tools/python/bin', name);
    if (existsSync(local)) return local;
    throw new Error(`${name} is not installed: run \`bash scripts/setup-temporal.sh\` (npm start and npm test do).`);
  }
}
