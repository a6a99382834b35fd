import { Context } from '@temporalio/activity';
import type { Pool, PoolClient } from 'pg';
import { inTransaction } from '../db/pool';
import { cycleTables, cyclesLeavingTables, dropCycleTables, dropTablesLeftBy } from '../db/cycle-tables';

/**
 * Drops a cycle's working tables once what it did with them has committed (its plan, or its end). Not inside that
 * transaction: an attempt of the cycle that outlived its timeout may still be reading them, and the drop would wait
 * for it holding that transaction's locks (the audience's, the cycle's), which the attempt may wait for in turn. So
 * it waits a second at most, and its failure fails nothing: once the cycle is done with them, the next cycle of any
 * audience drops them (dropTablesLeftByCycles). Until then they hold only disk (some 6 GB of staging at ten million members).
 */
export async function dropCycleTablesAfterCommit(pool: Pool, cycleId: string): Promise<void> {
  await leniently(pool, '1s', cycleId, (client) => dropCycleTables(client, cycleTables(cycleId)));
}

/**
 * The working tables of cycles done with them (see cycle-tables), left by a drop that failed, created again by an
 * attempt that outlived its cycle, or left by a crash: nothing reads them, and nothing else would drop them. Every
 * cycle's preparation runs this: a tenth of a second at most for each such cycle whose tables are still in use.
 */
export async function dropTablesLeftByCycles(pool: Pool): Promise<void> {
  const cycleIds = await leniently(pool, '100ms', undefined, cyclesLeavingTables);
  const dropped: string[] = [];
  for (const cycleId of cycleIds ?? []) {
    if (await leniently(pool, '100ms', cycleId, (client) => dropTablesLeftBy(client, cycleId))) dropped.push(cycleId);
  }
  // Tables left behind tell of crashes or of attempts that outlived their timeouts: worth a line in the log.
  if (dropped.length > 0) Context.current().log.info('dropped the working tables other cycles left', { cycleIds: dropped });
}

/**
 * What `work` on the tables of a cycle (or of any) returns, in a transaction that waits at most `lockTimeout` for a
 * lock; or, if it fails, undefined once the failure is logged: dropping tables late loses nothing.
 */
async function leniently<T>(
  pool: Pool,
  lockTimeout: string,
  cycleId: string | undefined,
  work: (client: PoolClient) => Promise<T>,
): Promise<T | undefined> {
  try {
    return await inTransaction(pool, async (client) => {
      await client.query(`SELECT pg_catalog.set_config('lock_timeout', $1, true)`, [lockTimeout]);
      return work(client);
    });
  } catch (error) {
    Context.current().log.warn("a cycle's working tables are left for a later cycle to drop", {
      ...(cycleId ? { cycleId } : {}),
      error: error instanceof Error ? error.message : String(error),
    });
    return undefined;
  }
}
