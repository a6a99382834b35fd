import { Pool, type ClientBase, type PoolClient } from 'pg';

/** Anything a single statement can run on: the pool, or a client inside a transaction. */
export type Queryable = Pool | ClientBase;

/** Where our own tables live, apart from the user's data and from the Graph API emulator's schema. */
export const SCHEMA = 'audience_sync';

export function createPool(connectionString: string, options: { max?: number; applicationName?: string } = {}): Pool {
  const pool = new Pool({
    connectionString,
    max: options.max ?? 10,
    application_name: options.applicationName ?? 'audience-sync',
    // Run before a new client is handed out, so every statement of ours plans with it. Sent from the 'connect'
    // event instead, it was queued ahead of the caller's first query, which pg deprecates (and pg 9 refuses).
    onConnect: async (client: ClientBase) => {
      await client.query(`SET random_page_cost = ${STATE_RANDOM_PAGE_COST}`);
    },
  });
  return survivingLostConnections(pool);
}

/**
 * What our statements tell the planner a page read out of order costs. They look up changed members and rows by
 * primary key, in key order (a cycle's changed tables are kept sorted), so each lookup reads pages the one before
 * it passed; PostgreSQL's default, 4 (a spinning disk's seek), makes it read a whole ten-million-row table instead
 * of looking up its 1% that changed, once statistics tell it how large the table is. 1.1 is what PostgreSQL's
 * documentation suggests for SSDs (README, "PostgreSQL for large audiences").
 */
export const STATE_RANDOM_PAGE_COST = 1.1;

/**
 * A connection lost (a server restart, a reset) must not end the worker process. An idle client's error reaches
 * the pool, and the next checkout reconnects. A checked-out client's fails what it is running (a query or a COPY
 * stream, whose caller releases it as broken) and is also emitted on the client, where nothing else listens while
 * a caller holds it.
 */
export function survivingLostConnections(pool: Pool): Pool {
  pool.on('error', () => undefined);
  pool.on('connect', (client) => client.on('error', () => undefined));
  return pool;
}

/**
 * Runs `work` on a client of its own. A client whose work failed is closed rather than handed to the next caller:
 * it may be left inside a COPY or a transaction; with `discard`, the client is closed whatever happened.
 */
export async function withClient<T>(
  pool: Pool,
  work: (client: PoolClient) => Promise<T>,
  options: { discard?: boolean } = {},
): Promise<T> {
  const client = await pool.connect();
  let failed = false;
  try {
    return await work(client);
  } catch (error) {
    failed = true;
    throw error;
  } finally {
    client.release(failed || options.discard === true);
  }
}

/** Runs `work` in one transaction, rolling back on any error. */
export async function inTransaction<T>(pool: Pool, work: (client: PoolClient) => Promise<T>): Promise<T> {
  const client = await pool.connect();
  try {
    await client.query('BEGIN');
    const result = await work(client);
    await client.query('COMMIT');
    return result;
  } catch (error) {
    await client.query('ROLLBACK').catch(() => undefined);
    throw error;
  } finally {
    client.release();
  }
}
