import { Context } from '@temporalio/activity';
import type { Pool } from 'pg';
import { inTransaction } from '../db/pool';
import { cycleTables, dropCycleTables, endedCyclesWithTables } from '../db/cycle-tables';

/**
 * Drops a cycle's working tables once what it did with them has committed (its plan, or its end). Not inside that
 * transaction: an attempt of the cycle that outlived its timeout may still be reading them, and the drop would wait
 * for it holding the audience's lock, which that attempt may wait for in turn. So it waits a second at most, and
 * its failure fails nothing: once the cycle has ended, the next cycle of any audience drops them
 * (dropTablesOfEndedCycles). Until then they hold only disk (some 6 GB of staging at ten million members).
 */
export async function dropCycleTablesAfterCommit(pool: Pool, cycleId: string): Promise<void> {
  try {
    await inTransaction(pool, async (client) => {
      await client.query(`SET LOCAL lock_timeout = '1s'`);
      await dropCycleTables(client, cycleTables(cycleId));
    });
  } catch (error) {
    Context.current().log.warn("a cycle's working tables are left for a later cycle to drop", {
      cycleId,
      error: error instanceof Error ? error.message : String(error),
    });
  }
}

/**
 * The working tables of cycles that have ended, left by a drop that failed or created again by an attempt that
 * outlived its cycle: nothing reads them, and without this nothing would ever drop them.
 */
export async function dropTablesOfEndedCycles(pool: Pool): Promise<void> {
  for (const cycleId of await endedCyclesWithTables(pool)) await dropCycleTablesAfterCommit(pool, cycleId);
}
