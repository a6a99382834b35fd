import { Pool, types } from 'pg';

/** PostgreSQL type oids whose JavaScript parsing would lose the text the user wrote (time zones, formatting). */
const KEEP_AS_TEXT = new Set([
  1082, // date: pg turns it into a local-midnight Date, which can shift the day of a birth date
  1114, // timestamp
  1184, // timestamptz
]);

/**
 * A pool for audiences' source queries. Dates come through as the text PostgreSQL prints, so birth dates are
 * normalized from what is stored rather than from a time-zone-shifted Date.
 */
export function createSourcePool(connectionString: string, max = 10): Pool {
  const pool = new Pool({
    connectionString,
    max,
    application_name: 'audience-sync source',
    types: {
      getTypeParser: ((oid: number, format?: 'text' | 'binary') =>
        KEEP_AS_TEXT.has(oid) ? (value: string) => value : types.getTypeParser(oid, format)) as typeof types.getTypeParser,
    },
  });
  pool.on('error', () => undefined);
  return pool;
}
