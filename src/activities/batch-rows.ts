import { ApplicationFailure } from '@temporalio/activity';
import type { Pool } from 'pg';
import { rowsJson } from '../matching/row-codec';
import { BodyBuffers } from '../facebook/body-buffers';
import type { UsersBatch } from '../facebook/users-payload';
import { readBatchRows, type PlannedBatch } from '../db/change-plan';
import { FailureType } from '../workflows/failure-types';

/**
 * The memory batches' rows are read into, reused from one batch to the next rather than megabytes of new memory a
 * batch, which V8 counts against the main thread's old generation until a full collection frees it.
 */
const batchRowMemory = new BodyBuffers();

/**
 * Runs `use` with the batch's rows in the audience's upload schema (readUploadSchema), referenced only by the writer
 * that puts them into a request body; their memory is read into for a later batch once `use` has settled, so
 * nothing may keep them past it.
 */
export function withUsersBatch<T>(
  pool: Pool,
  audienceKey: string,
  batch: PlannedBatch,
  schema: readonly string[],
  use: (users: UsersBatch) => Promise<T>,
): Promise<T> {
  return batchRowMemory.lend(async (allocate) => {
    const rows = await readBatchRows(pool, audienceKey, batch, allocate);
    if (rows.length !== batch.rowCount) throw cycleStateLost();
    return use({ schema, rowCount: rows.length, rowsJson: rowsJson(rows) });
  });
}

export function cycleStateLost(): ApplicationFailure {
  return ApplicationFailure.nonRetryable(
    "The cycle's plan no longer matches the audience's pending rows (its records were lost); the cycle is computed again.",
    FailureType.CycleStateLost,
  );
}
