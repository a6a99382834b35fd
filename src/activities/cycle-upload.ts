import { ApplicationFailure, Context } from '@temporalio/activity';
import { AUDIENCE_SCHEMA } from '../matching/keys';
import { rowsJson } from '../matching/row-codec';
import { GraphApiError } from '../facebook/graph-error';
import type { UsersBatch } from '../facebook/users-payload';
import { inTransaction } from '../db/pool';
import { cycleTables, dropCycleTables } from '../db/cycle-tables';
import { acknowledgeBatch, plannedBatches, readBatchRows, type Operation, type PlannedBatch } from '../db/change-plan';
import { finishCycle, readCycle } from '../db/sync-cycles';
import { FailureType } from '../workflows/failure-types';
import type { ActivityDependencies } from './dependencies';
import { forEachWithConcurrency } from './bounded-concurrency';
import { graphFailure } from './graph-failures';
import { callForAdAccount } from './ad-account-gate';

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

/** Adds go first, so that a member who changed an identifier is never missing from the audience in between. */
const OPERATIONS: readonly Operation[] = ['add', 'remove'];

export function createUploadActivities(deps: ActivityDependencies) {
  const { pool } = deps;

  return {
    /**
     * Uploads the cycle's planned batches, `uploadConcurrency` at a time. Each batch Meta acknowledges is applied
     * to the audience's rows in the same transaction that marks it acknowledged, so a retried attempt (after a
     * crash, a timeout or throttling) resumes with the unacknowledged batches and never re-sends one Meta
     * confirmed.
     */
    async uploadCycle(input: UploadCycleInput): Promise<UploadResult> {
      const context = Context.current();
      const cycle = await readCycle(pool, input.cycleId);
      if (!cycle) throw cycleStateLost();
      if (cycle.outcome !== 'running') {
        // An earlier attempt finished the cycle but its result was lost with the worker.
        return { added: cycle.added, removed: cycle.removed, invalidEntries: cycle.invalidEntries, removalsRefused: 0 };
      }
      const planned = await plannedBatches(pool, input.cycleId);
      let acknowledged = planned.filter((batch) => batch.acknowledged).length;
      if (context.info.heartbeatDetails !== undefined) context.log.info('resuming the upload', { acknowledged, planned: planned.length });
      let removalsRefused = 0;

      for (const operation of OPERATIONS) {
        const pending = planned.filter((batch) => batch.operation === operation && !batch.acknowledged);
        await forEachWithConcurrency(pending, deps.uploadConcurrency, async (batch) => {
          if (removalsRefused > 0) {
            removalsRefused += batch.rowCount;
            return;
          }
          try {
            await uploadBatch(deps, input, batch);
          } catch (error) {
            if (!(error instanceof GraphApiError && error.wouldLeaveAudienceTooSmall)) throw graphFailure(error);
            removalsRefused += batch.rowCount;
            return;
          }
          acknowledged++;
          context.heartbeat({ acknowledgedBatches: acknowledged, plannedBatches: planned.length });
        });
      }

      const message =
        removalsRefused > 0
          ? `Meta refused to remove ${removalsRefused} rows because the audience would become too small; they stay ` +
            'in the audience and the removal is tried again next cycle.'
          : undefined;
      const finished = await inTransaction(pool, async (client) => {
        await finishCycle(client, input.cycleId, 'synced', message ?? null);
        await dropCycleTables(client, cycleTables(input.cycleId));
        return readCycle(client, input.cycleId);
      });
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

async function uploadBatch(deps: ActivityDependencies, input: UploadCycleInput, batch: PlannedBatch): Promise<void> {
  const users = await readUsersBatch(deps, input, batch);
  const send = batch.operation === 'add' ? deps.graph.addUsers : deps.graph.removeUsers;
  const response = await callForAdAccount(deps.pool, input.adAccountId, () => send.call(deps.graph, input.fbAudienceId, users));
  await inTransaction(deps.pool, (client) =>
    acknowledgeBatch(client, input.audienceKey, input.cycleId, batch, response.numInvalidEntries),
  );
}

/** The batch's rows, referenced only by the writer that puts them into the request body. */
async function readUsersBatch(deps: ActivityDependencies, input: UploadCycleInput, batch: PlannedBatch): Promise<UsersBatch> {
  const rows = await readBatchRows(deps.pool, input.audienceKey, batch);
  if (rows.length !== batch.rowCount) throw cycleStateLost();
  return { schema: AUDIENCE_SCHEMA, rowCount: rows.length, rowsJson: rowsJson(rows) };
}

function cycleStateLost(): ApplicationFailure {
  return ApplicationFailure.nonRetryable(
    "The cycle's plan no longer matches the audience's pending rows (its records were lost); the cycle is computed again.",
    FailureType.CycleStateLost,
  );
}
