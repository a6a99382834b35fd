import { randomInt } from 'node:crypto';
import { ApplicationFailure } from '@temporalio/activity';
import { GraphApiError } from '../facebook/graph-error';
import { plannedBatches, type PlannedBatch } from '../db/change-plan';
import { inTransaction } from '../db/pool';
import {
  acknowledgeReplaceBatch,
  dropReplaceSession,
  giveUpReplace,
  readReplaceSession,
  settleReplace,
  startReplaceSession,
  type ReplaceSession,
} from '../db/replace-session';
import { FailureType } from '../workflows/failure-types';
import type { ActivityDependencies } from './dependencies';
import { callForAdAccount, callMeta } from './ad-account-gate';
import { withUsersBatch } from './batch-rows';
import { graphFailure } from './graph-failures';
import type { CycleProgressReporter } from './cycle-progress';

export interface ReplaceTarget {
  audienceKey: string;
  cycleId: string;
  fbAudienceId: string;
  adAccountId: string;
}

/**
 * Meta closes a session 90 minutes after its first batch and keeps what it received (reference §4). A session
 * older than this, after a throttle wait or a crash, is not continued: a new one starts, so the audience ends
 * with everyone rather than with the part that arrived in time. A second session that runs out of time too (an
 * audience too large to replace in 90 minutes, or throttling again) ends early instead, as Meta advises: its next
 * batch is flagged last, and the rows it did not reach are added with /users.
 */
const SESSION_BUDGET_MS = 75 * 60_000;
const SESSIONS_BEFORE_ENDING_EARLY = 2;
/** operation_status while a replace runs (reference §2.4). */
const REPLACE_IN_PROGRESS = 414;
const WAIT_FOR_OTHER_REPLACE_MS = 60_000;
/** Session ids stay within JavaScript's safe integers. */
const MAX_SESSION_ID = 2 ** 47;
/** Meta missing the first batch of several sessions in a row is not transient: the attempt fails and is retried. */
const SESSIONS_PER_ATTEMPT = 3;

/**
 * Sends the cycle's replace batches in usersreplace sessions, back to back, until Meta's membership is every
 * wanted row; our tables are settled in the same transaction as the last batch's acknowledgement. A retried
 * attempt continues the recorded session where its acknowledgements end, or starts a new one if the session is
 * too old. Nothing else is sent for the audience meanwhile: its add and remove batches (if the session ended
 * early) are planned only when the replace has settled.
 */
export async function replaceAtMeta(
  deps: ActivityDependencies,
  target: ReplaceTarget,
  schema: readonly string[],
  progress: CycleProgressReporter,
): Promise<void> {
  let sessionsStarted = 0;
  for (;;) {
    const batches = (await plannedBatches(deps.pool, target.cycleId)).filter((batch) => batch.operation === 'replace');
    if (batches.every((batch) => batch.acknowledged)) return;
    progress.beginUpload('replacing', batches);
    const session = await readReplaceSession(deps.pool, target.cycleId);
    if (session && (session.ageMs <= budgetOf(deps) || endsEarly(deps, session))) {
      if ((await sendSession(deps, target, batches, session, schema, progress)) === 'settled') return;
      continue;
    }
    if (sessionsStarted === SESSIONS_PER_ATTEMPT) {
      throw ApplicationFailure.retryable(`Meta did not take the replace in ${SESSIONS_PER_ATTEMPT} sessions; trying again.`);
    }
    await waitForOtherReplace(deps, target);
    await inTransaction(deps.pool, (client) => startReplaceSession(client, target.cycleId, randomInt(1, MAX_SESSION_ID)));
    sessionsStarted++;
  }
}

/** Sends the batches the session has not received; 'restart' when a new session must take over. */
async function sendSession(
  deps: ActivityDependencies,
  target: ReplaceTarget,
  batches: PlannedBatch[],
  session: ReplaceSession,
  schema: readonly string[],
  progress: CycleProgressReporter,
): Promise<'settled' | 'restart'> {
  const lastBatchNo = Math.max(...batches.map((batch) => batch.batchNo));
  const estimatedTotal = batches.reduce((sum, batch) => sum + batch.rowCount, 0);
  for (const batch of batches.filter((planned) => !planned.acknowledged)) {
    // A throttle wait or a slow answer may have used the session up since it started.
    const current = await readReplaceSession(deps.pool, target.cycleId);
    const outOfTime = current !== undefined && current.ageMs > budgetOf(deps);
    if (current?.sessionId !== session.sessionId || (outOfTime && !endsEarly(deps, current))) {
      await dropReplaceSession(deps.pool, target.cycleId);
      return 'restart';
    }
    const last = batch.batchNo === lastBatchNo || outOfTime;
    // Rows that cannot be read fail the attempt; a failed call goes to afterRefusedBatch, which handles Meta's
    // refusals and throws anything else again, once the rows' memory is given back.
    const answer = await withUsersBatch(deps.pool, target.audienceKey, batch, schema, (users) =>
      callForAdAccount(deps, target.adAccountId, () =>
        deps.graph.replaceUsers(target.fbAudienceId, users, {
          sessionId: session.sessionId,
          batchSeq: batch.batchNo + 1,
          lastBatch: last,
          estimatedTotal,
        }),
      ).then(
        (response) => ({ response }),
        (error: unknown) => ({ error }),
      ),
    );
    if ('error' in answer) return afterRefusedBatch(deps, target, batch, answer.error);
    const invalidEntries = answer.response.numInvalidEntries;
    await inTransaction(deps.pool, async (client) => {
      await acknowledgeReplaceBatch(client, target.cycleId, batch, invalidEntries);
      if (last) await settleReplace(client, target.audienceKey, target.cycleId, deps.batchSize);
    });
    deps.metrics.rowsUploaded(target.audienceKey, 'replace', batch.rowCount);
    progress.batchAnswered(batch);
  }
  return 'settled';
}

const budgetOf = (deps: ActivityDependencies): number => deps.replaceSessionBudgetMs ?? SESSION_BUDGET_MS;

function endsEarly(deps: ActivityDependencies, session: ReplaceSession): boolean {
  return session.ageMs > budgetOf(deps) && session.sessionsStarted >= SESSIONS_BEFORE_ENDING_EARLY;
}

/** What a refused batch means for the replace (reference §4's table of 2650 subcodes). */
async function afterRefusedBatch(
  deps: ActivityDependencies,
  target: ReplaceTarget,
  batch: PlannedBatch,
  error: unknown,
): Promise<'settled' | 'restart'> {
  if (!(error instanceof GraphApiError)) throw error;
  switch (error.subcodeName) {
    case 'replace_not_started':
      await dropReplaceSession(deps.pool, target.cycleId);
      return 'restart';
    case 'replace_session_ended':
      // Meta holds what the session received: the batches it acknowledged. The rest is added.
      await inTransaction(deps.pool, (client) =>
        settleReplace(client, target.audienceKey, target.cycleId, deps.batchSize),
      );
      return 'settled';
    case 'replace_too_large':
      await inTransaction(deps.pool, (client) =>
        giveUpReplace(client, target.audienceKey, target.cycleId, deps.batchSize),
      );
      return 'settled';
    case 'replace_failed':
      // The audience may be partly replaced: the retry replaces it again, in a new session.
      await dropReplaceSession(deps.pool, target.cycleId);
      throw graphFailure(error);
    case 'audience_update_in_progress':
      // Another replace took the audience before our first batch: ours starts again once it has ended.
      if (batch.batchNo === 0) await dropReplaceSession(deps.pool, target.cycleId);
      throw otherReplaceRunning();
    default:
      throw graphFailure(error);
  }
}

/**
 * Waits (through the activity's retry) while a replace of the audience runs at Meta (operation_status 414): Meta
 * asks that a replace start only when none runs, and that /users not be called meanwhile. Other codes do not hold
 * it back: 410 is an audience with no upload yet, 411 and 412 describe the last upload, 415 a failed replace that
 * a new one repairs.
 */
export async function waitForOtherReplace(deps: ActivityDependencies, target: ReplaceTarget): Promise<void> {
  const status = await callMeta(deps, target.adAccountId, () => deps.graph.getOperationStatus(target.fbAudienceId));
  if (status === REPLACE_IN_PROGRESS) throw otherReplaceRunning();
}

function otherReplaceRunning(): ApplicationFailure {
  return ApplicationFailure.create({
    type: FailureType.ReplaceRunning,
    message: 'A replace of the audience is running at Meta (operation_status 414); this one starts when it has ended.',
    nextRetryDelay: WAIT_FOR_OTHER_REPLACE_MS,
    category: 'BENIGN',
  });
}
