import { ApplicationFailure, Context } from '@temporalio/activity';
import { AUDIENCE_SCHEMA } from '../matching/keys';
import { GraphApiError } from '../facebook/graph-error';
import { inTransaction, type Queryable } from '../db/pool';
import {
  applyBatchToSyncedRows,
  cycleTables,
  dropCycleTables,
  readBatchRows,
  type CycleTables,
  type Operation,
} from '../db/cycle-tables';
import { acknowledgeBatch, acknowledgedBatches, batchLabel, finishCycle, readCycle } from '../db/sync-cycles';
import { FailureType } from '../workflows/failure-types';
import type { ActivityDependencies } from './dependencies';
import { forEachWithConcurrency } from './bounded-concurrency';
import { callForAdAccount } from './ad-account-gate';
import { graphFailure } from './graph-failures';

export interface UploadCycleInput {
  audienceKey: string;
  cycleId: string;
  fbAudienceId: string;
  adAccountId: string;
}

export interface UploadResult {
  added: number;
  removed: number;
  invalidEntries: number;
  /** Rows Meta would not remove because the audience would become too small; they are retried next cycle. */
  removalsRefused: number;
  message?: string;
}

interface PlannedBatch {
  operation: Operation;
  batchNo: number;
  rowCount: number;
}

/** Adds go first, so that a member who changed an identifier is never missing from the audience in between. */
const OPERATIONS: readonly Operation[] = ['add', 'remove'];

export function createUploadActivities(deps: ActivityDependencies) {
  const { pool } = deps;

  return {
    /**
     * Uploads the cycle's adds and removes in batches. Each batch Meta acknowledges is applied to the synced rows
     * in the same transaction that records it as acknowledged, so a retried attempt (after a crash, a timeout or
     * throttling) resumes with the first unacknowledged batch and never re-sends one Meta confirmed.
     */
    async uploadCycle(input: UploadCycleInput): Promise<UploadResult> {
      const context = Context.current();
      const cycle = await readCycle(pool, input.cycleId);
      if (!cycle) throw cycleStateLost();
      if (cycle.outcome !== 'running') {
        // An earlier attempt finished the cycle but its result was lost with the worker.
        return { added: cycle.added, removed: cycle.removed, invalidEntries: cycle.invalidEntries, removalsRefused: 0 };
      }
      const tables = cycleTables(input.cycleId);
      const planned = await plannedBatches(pool, tables);
      const acknowledged = await acknowledgedBatches(pool, input.cycleId);
      let removalsRefused = 0;

      for (const operation of OPERATIONS) {
        const pending = planned.filter(
          (batch) => batch.operation === operation && !acknowledged.has(batchLabel(operation, batch.batchNo)),
        );
        await forEachWithConcurrency(pending, deps.uploadConcurrency, async (batch) => {
          if (removalsRefused > 0) {
            removalsRefused += batch.rowCount;
            return;
          }
          try {
            await uploadBatch(deps, input, tables, batch);
          } catch (error) {
            if (!(error instanceof GraphApiError && error.wouldLeaveAudienceTooSmall)) throw graphFailure(error);
            removalsRefused += batch.rowCount;
            return;
          }
          acknowledged.add(batchLabel(batch.operation, batch.batchNo));
          context.heartbeat({ acknowledgedBatches: acknowledged.size, plannedBatches: planned.length });
        });
      }

      const message =
        removalsRefused > 0
          ? `Meta refused to remove ${removalsRefused} rows because the audience would become too small; they stay ` +
            'in the audience and the removal is tried again next cycle.'
          : undefined;
      await inTransaction(pool, async (client) => {
        await finishCycle(client, input.cycleId, 'synced', message ?? null);
        await dropCycleTables(client, tables);
      });
      const finished = await readCycle(pool, input.cycleId);
      return {
        added: finished?.added ?? 0,
        removed: finished?.removed ?? 0,
        invalidEntries: finished?.invalidEntries ?? 0,
        removalsRefused,
        ...(message ? { message } : {}),
      };
    },
  };
}

async function uploadBatch(
  deps: ActivityDependencies,
  input: UploadCycleInput,
  tables: CycleTables,
  batch: PlannedBatch,
): Promise<void> {
  const rowsJson = await readBatchRows(deps.pool, tables, batch.operation, batch.batchNo);
  if (rowsJson.length !== batch.rowCount) throw cycleStateLost();
  const send = batch.operation === 'add' ? deps.graph.addUsers : deps.graph.removeUsers;
  const response = await callForAdAccount(deps.pool, input.adAccountId, () =>
    send.call(deps.graph, input.fbAudienceId, { schema: AUDIENCE_SCHEMA, rowsJson }),
  );
  await inTransaction(deps.pool, async (client) => {
    await applyBatchToSyncedRows(client, input.audienceKey, tables, batch.operation, batch.batchNo);
    await acknowledgeBatch(client, {
      cycleId: input.cycleId,
      operation: batch.operation,
      batchNo: batch.batchNo,
      rowCount: batch.rowCount,
      invalidEntries: response.numInvalidEntries,
    });
  });
}

async function plannedBatches(client: Queryable, tables: CycleTables): Promise<PlannedBatch[]> {
  try {
    const { rows } = await client.query<{ operation: Operation; batch_no: number; row_count: string }>(
      `SELECT operation, batch_no, count(*) AS row_count FROM ${tables.changes}
        GROUP BY operation, batch_no ORDER BY operation, batch_no`,
    );
    return rows.map((row) => ({ operation: row.operation, batchNo: row.batch_no, rowCount: Number(row.row_count) }));
  } catch (error) {
    if ((error as { code?: string }).code === UNDEFINED_TABLE) throw cycleStateLost();
    throw error;
  }
}

const UNDEFINED_TABLE = '42P01';

function cycleStateLost(): ApplicationFailure {
  return ApplicationFailure.nonRetryable(
    "The cycle's working tables are gone (PostgreSQL restarted after a crash); the cycle is computed again.",
    FailureType.CycleStateLost,
  );
}
