import { Context } from '@temporalio/activity';
import { GraphApiError } from '../facebook/graph-error';
import { readUploadSchema } from '../db/audiences';
import { inTransaction } from '../db/pool';
import { acknowledgeBatch, plannedBatches, type Operation, type PlannedBatch } from '../db/change-plan';
import { finishCycle, readCycle, type CycleRecord } from '../db/sync-cycles';
import { replacedMessage } from '../workflows/replace-reason';
import type { ActivityDependencies } from './dependencies';
import { forEachWithConcurrency } from './bounded-concurrency';
import { graphFailure } from './graph-failures';
import { callForAdAccount } from './ad-account-gate';
import { cycleStateLost, withUsersBatch } from './batch-rows';
import { failingOnBrokenInvariants } from './invariant-failure';
import { replaceAtMeta, waitForOtherReplace } from './replace-upload';
import { CycleProgressReporter } from './cycle-progress';
import { dropCycleTablesAfterCommit } from './cycle-tables-cleanup';

export interface UploadCycleInput {
  audienceKey: string;
  cycleId: string;
  fbAudienceId: string;
  adAccountId: string;
}

export interface UploadResult {
  /** `replaced` when the cycle replaced the audience's membership at Meta. */
  outcome: 'synced' | 'replaced';
  added: number;
  removed: number;
  /** Rows a replace's session put at Meta in place of everything it held (any it did not reach are in `added`). */
  replaced: number;
  invalidEntries: number;
  /** Rows Meta would not remove because the audience would become too small; they are retried next cycle. */
  removalsRefused: number;
  message?: string;
}

/**
 * Removals go first. Meta removes the people a row matches, not the row: a member's old and new rows (an identifier
 * or the LDU flag changed) match the same person, so removing the old one after adding the new one would take the
 * person out. The price is that such a member is missing from the audience for the moments in between.
 */
const OPERATIONS: readonly Operation[] = ['remove', 'add'];

export function createUploadActivities(deps: ActivityDependencies) {
  return {
    /**
     * Uploads the cycle's planned batches, `uploadConcurrency` at a time (a replace's one after another). Each
     * batch Meta acknowledges is applied to the audience's rows in the same transaction that marks it acknowledged,
     * so a retried attempt (after a crash, a timeout or throttling) resumes with the unacknowledged batches and
     * never re-sends one Meta confirmed.
     */
    async uploadCycle(input: UploadCycleInput): Promise<UploadResult> {
      return failingOnBrokenInvariants(() => upload(deps, input));
    },
  };
}

/**
 * A replace cycle first replaces the audience's membership (replace-upload), and then sends the add batches its
 * session left over, if it ended early; any other cycle sends its add and remove batches.
 */
async function upload(deps: ActivityDependencies, input: UploadCycleInput): Promise<UploadResult> {
  const { pool } = deps;
  const context = Context.current();
  const cycle = await readCycle(pool, input.cycleId);
  if (!cycle) throw cycleStateLost();
  // An earlier attempt finished the cycle but its result was lost with the worker.
  if (cycle.outcome !== 'running') return resultOf(cycle, 0);
  const schema = await readUploadSchema(pool, input.audienceKey);
  const progress = new CycleProgressReporter(context, input.cycleId);
  if (cycle.replaceReason) await replaceAtMeta(deps, input, schema, progress);

  const planned = await plannedBatches(pool, input.cycleId);
  const sent = planned.filter((batch) => batch.operation !== 'replace');
  if (context.info.heartbeatDetails !== undefined) {
    context.log.info('resuming the upload', { acknowledged: planned.filter((batch) => batch.acknowledged).length, planned: planned.length });
  }
  if (sent.some((batch) => !batch.acknowledged)) {
    progress.beginUpload('uploading', sent);
    // Meta asks for no /users call while a replace runs: ours may still be swapping at Meta, or another tool's runs.
    await waitForOtherReplace(deps, input);
  }
  let removalsRefused = 0;

  for (const operation of OPERATIONS) {
    const pending = planned.filter((batch) => batch.operation === operation && !batch.acknowledged);
    await forEachWithConcurrency(pending, deps.uploadConcurrency, async (batch) => {
      if (removalsRefused > 0 && batch.operation === 'remove') {
        removalsRefused += batch.rowCount;
      } else {
        try {
          await uploadBatch(deps, input, batch, schema);
        } catch (error) {
          if (!(error instanceof GraphApiError && error.wouldLeaveAudienceTooSmall)) throw graphFailure(error);
          removalsRefused += batch.rowCount;
        }
      }
      progress.batchAnswered(batch);
    });
  }

  const finished = await inTransaction(pool, async (client) => {
    const before = await readCycle(client, input.cycleId);
    if (!before) throw cycleStateLost();
    const message = [replaceOutcome(before), removalsRefusedMessage(removalsRefused)].filter(Boolean).join(' ');
    await finishCycle(client, input.cycleId, replacedMembership(before) ? 'replaced' : 'synced', message || null);
    return readCycle(client, input.cycleId);
  });
  if (!finished) throw cycleStateLost();
  // Its plan dropped its working tables once committed, unless an attempt of it still held them then, or the cycle
  // was planned by a worker from before that.
  await dropCycleTablesAfterCommit(pool, input.cycleId);
  return resultOf(finished, removalsRefused);
}

/** The cycle replaced the audience's membership, in one session or in one ended early plus the rest added. */
function replacedMembership(cycle: CycleRecord): boolean {
  return cycle.replaceReason !== undefined && !cycle.replaceGivenUp;
}

function resultOf(cycle: CycleRecord, removalsRefused: number): UploadResult {
  return {
    outcome: cycle.outcome === 'replaced' ? 'replaced' : 'synced',
    added: cycle.added,
    removed: cycle.removed,
    replaced: cycle.replaced,
    invalidEntries: cycle.invalidEntries,
    removalsRefused,
    ...(cycle.message ? { message: cycle.message } : {}),
  };
}

function replaceOutcome(cycle: CycleRecord): string | undefined {
  if (!cycle.replaceReason) return undefined;
  if (replacedMembership(cycle)) return replacedMessage(cycle.replaceReason, cycle.replaced + cycle.added);
  return (
    'Meta does not replace an audience of 100 million people or more, so this cycle added and removed what changed ' +
    'instead; rows put in the audience outside audience-sync stay in it.'
  );
}

function removalsRefusedMessage(refused: number): string | undefined {
  return refused > 0
    ? `Meta refused to remove ${refused} rows because the audience would become too small; they stay ` +
        'in the audience and the removal is tried again next cycle.'
    : undefined;
}

async function uploadBatch(
  deps: ActivityDependencies,
  input: UploadCycleInput,
  batch: PlannedBatch,
  schema: readonly string[],
): Promise<void> {
  const send = batch.operation === 'add' ? deps.graph.addUsers : deps.graph.removeUsers;
  const response = await withUsersBatch(deps.pool, input.audienceKey, batch, schema, (users) =>
    callForAdAccount(deps, input.adAccountId, () => send.call(deps.graph, input.fbAudienceId, users)),
  );
  await inTransaction(deps.pool, (client) =>
    acknowledgeBatch(client, input.audienceKey, input.cycleId, batch, response.numInvalidEntries),
  );
  deps.metrics.rowsUploaded(input.audienceKey, batch.operation, batch.rowCount);
}
