import { DEFAULT_DATABASE_URL } from '../config/environment';
import { startEmbeddedPostgres } from './embedded-postgres';
import { portInUse } from './polling';

/** The PostgreSQL `npm start` or `npm test` works on. */
export interface LocalPostgres {
  url: string;
  /** Whether it is ours (started here, stopped by `stop`) rather than one found running. */
  embedded: boolean;
  stop(): Promise<void>;
}

/** The flag of `npm start` and `npm test` that chooses the embedded PostgreSQL wherever another answers. */
export const EMBEDDED_POSTGRES_FLAG = '--embedded-postgres';

/**
 * The PostgreSQL at `databaseUrl` when one is set; else the machine's at 127.0.0.1:5432 when it answers; else (or
 * when `forceEmbedded`) an embedded one started with its data in `dir`, so that a machine without PostgreSQL still
 * runs the demo and the tests.
 */
export async function localPostgres(options: {
  databaseUrl: string | undefined;
  forceEmbedded: boolean;
  dir: string;
  log: (line: string) => void;
}): Promise<LocalPostgres> {
  const found = (url: string): LocalPostgres => ({ url, embedded: false, stop: async () => undefined });
  if (!options.forceEmbedded) {
    if (options.databaseUrl) return found(options.databaseUrl);
    const defaultUrl = new URL(DEFAULT_DATABASE_URL);
    if (await portInUse(Number(defaultUrl.port))) return found(DEFAULT_DATABASE_URL);
    options.log(`Nothing answers on ${defaultUrl.host} and DATABASE_URL is not set: using an embedded PostgreSQL.`);
  }
  return { ...(await startEmbeddedPostgres(options.dir, options.log)), embedded: true };
}

/** A PostgreSQL URL fit to print: its password replaced by ***. */
export function redactUrl(url: string): string {
  return url.replace(/\/\/([^:@/]+):[^@/]*@/, '//$1:***@');
}
