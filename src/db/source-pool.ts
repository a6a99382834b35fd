import { Pool } from 'pg';
import { survivingLostConnections } from './pool';

/**
 * A pool for audiences' source queries. Their rows arrive as COPY text, which the hashing threads parse
 * (db/copy-text), never through the driver's row parsers.
 */
export function createSourcePool(connectionString: string, max = 10): Pool {
  const pool = new Pool({
    connectionString,
    max,
    application_name: 'audience-sync source',
    // A source that falls silent (a host gone, a network cut) is found dead within minutes, not at the
    // preparation's two-hour timeout: PostgreSQL's own timeouts cannot end a session it no longer hears from.
    keepAlive: true,
    keepAliveInitialDelayMillis: 60_000,
  });
  return survivingLostConnections(pool);
}
