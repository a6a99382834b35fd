import { ApplicationFailure } from '@temporalio/activity';
import type { Pool } from 'pg';
import { rowsJson } from '../matching/row-codec';
import type { UsersBatch } from '../facebook/users-payload';
import { readBatchRows, type PlannedBatch } from '../db/change-plan';
import { FailureType } from '../workflows/failure-types';

/**
 * The batch's rows in the audience's upload schema (readUploadSchema), referenced only by the writer that puts them
 * into the request body.
 */
export async function readUsersBatch(
  pool: Pool,
  audienceKey: string,
  batch: PlannedBatch,
  schema: readonly string[],
): Promise<UsersBatch> {
  const rows = await readBatchRows(pool, audienceKey, batch);
  if (rows.length !== batch.rowCount) throw cycleStateLost();
  return { schema, rowCount: rows.length, rowsJson: rowsJson(rows) };
}

export function cycleStateLost(): ApplicationFailure {
  return ApplicationFailure.nonRetryable(
    "The cycle's plan no longer matches the audience's pending rows (its records were lost); the cycle is computed again.",
    FailureType.CycleStateLost,
  );
}
