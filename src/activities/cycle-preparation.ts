import { randomUUID } from 'node:crypto';
import { once } from 'node:events';
import { Transform } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { Context } from '@temporalio/activity';
import type { PoolClient } from 'pg';
import { from as copyFrom } from 'pg-copy-streams';
import type { MemberRowsOptions } from '../matching/member-rows';
import { MATCHING_VERSION } from '../matching/version';
import { inTransaction, withClient } from '../db/pool';
import { checkAudienceSql, type AudienceSql } from '../db/audience-sql';
import { FINGERPRINT_COPY } from '../db/source-query';
import {
  assertSourceSettings,
  beginSourceTransaction,
  copyFromSource,
  withSourceSession,
} from '../db/source-session';
import {
  beginCopyIntoFingerprints,
  copyIntoStaging,
  createCycleTables,
  createStaging,
  cycleTables,
  type CycleTables,
} from '../db/cycle-tables';
import { dropCycleTablesAfterCommit, dropTablesLeftByCycles } from './cycle-tables-cleanup';
import {
  applyMemberChanges,
  audienceMembership,
  changedMemberIds,
  longestChangedMemberId,
  findChangedMembers,
  loadFirstMembers,
  membersReusable,
  movedMembership,
  recordBasis,
  type RebuildScope,
} from '../db/member-changes';
import { planBatches, planReplaceBatches } from '../db/change-plan';
import { advanceGeneration, claimAudienceForCycle, recordUploadSchema } from '../db/audiences';
import { listUnsentLoad } from '../db/unsent-load';
import { assertClaimed, claimForAttempt, inClaimedTransaction, type AttemptClaim } from '../db/preparation-attempt';
import { uploadSchema, type LimitedDataUseMode } from '../matching/keys';
import { replacePendingMessage, type ReplaceReason } from '../workflows/replace-reason';
import { COPY_BINARY_HEADER, COPY_BINARY_TRAILER } from '../db/binary-copy';
import { CopyMemory } from '../db/copy-in-flight';
import { NEWLINE } from '../db/copy-text';
import { finishCycle, lastCountedMembership, openCycle, recordPlan } from '../db/sync-cycles';
import type { ActivityDependencies } from './dependencies';
import { decideCycle, type CycleDecision } from './cycle-decision';
import {
  addTally,
  emptyTally,
  mergeCounts,
  tallied,
  withMissingUserIds,
  type EncodedChunk,
  type MembershipTally,
} from './member-chunk-encoding';
import { CALLING_THREAD_ENCODER } from './member-encoder';
import { ensureSourceFit } from './source-access';
import { failingOnBrokenInvariants } from './invariant-failure';
import { fromSource, oversizedRowFailure, sourceQueryFailure } from './source-query-failure';
import { encodeEachChunk, MAX_SOURCE_ROW_BYTES, sourceMemberChunks } from './source-member-chunks';
import { CycleProgressReporter } from './cycle-progress';

export interface PrepareCycleInput {
  audienceKey: string;
  adAccountId: string;
  name: string;
  cycleId: string;
  fbAudienceId: string;
  sourceSql: string;
  minSize: number;
  defaultCountry?: string;
  /** Rows carry the LDU columns, for members flagged by their trait or for all (`connect --limited-data-use`). */
  limitedDataUse?: LimitedDataUseMode;
  /** A value-based audience's column of each member's value. */
  valueColumn?: string;
  allowMassRemoval: boolean;
  /** The generation of our tables the workflow last saw planned (0 for none): an older one means they were lost. */
  expectedGeneration: number;
  /** The workflow asks this cycle to replace the audience's membership at Meta (requested, or reconciliation). */
  replace?: ReplaceReason;
  /** Members counted by the last cycle: a replace that would leave far fewer asks for confirmation first. */
  membersBefore?: number;
}

/** A cycle's plan: counts only, so it can cross into workflow history. */
export interface CyclePlan {
  cycleId: string;
  decision: CycleDecision;
  members: number;
  /** Source rows read (pass 1 when it ran, else pass 2). */
  sourceRows: number;
  /** Members whose rows were built this cycle: new or changed ones, or all of them in a full rebuild. */
  rebuiltMembers: number;
  adds: number;
  removes: number;
  /** Values dropped among the members rebuilt this cycle. */
  dropped: number;
  drops: Record<string, number>;
  /** Members with a usable value, by key, across the whole audience. */
  coverage: Record<string, number>;
  message?: string;
  /** Set when the source role is privileged and SOURCE_ALLOW_PRIVILEGED_ROLE lets the cycle run anyway. */
  sourceWarning?: string;
  /** Why the cycle replaces the audience's membership at Meta (its `adds` are then every row it sends). */
  replace?: ReplaceReason;
  /** Our tables' generation after this plan, for the workflow to expect next time. */
  generation: number;
}

/**
 * Up to this many changed members are encoded on the activity's own thread, a chunk at a time: under a second of
 * work, where a hashing thread would cost its start-up and tens of MB on top of what the last upload left.
 */
const FEW_MEMBERS = 50_000;
/** Past this share of changed members, reading everyone is cheaper than looking each one up. */
const FULL_REBUILD_SHARE = 0.25;
const HEARTBEAT_EVERY_MS = 5_000;
/** A count at most this much older reaches the server: well within the worker's heartbeat throttle (2 s). */
const ROWS_REPORTED_EVERY_MS = 250;

interface PassTwo {
  sourceRows: number;
  withoutUserId: number;
  drops: Record<string, number>;
  tally: MembershipTally;
}

export function createPreparationActivities(deps: ActivityDependencies) {
  return {
    /**
     * Works out what Meta must be told, without telling it. Pass 1 fingerprints every source member in SQL alone;
     * pass 2 normalizes and hashes only the members whose fingerprint changed (everyone on a first cycle); the
     * audience's members and row counts are updated and every pending change is numbered into batches. A retried
     * attempt, even of a cycle that an earlier one ended, reopens the cycle and starts its working tables afresh.
     */
    async prepareCycle(input: PrepareCycleInput): Promise<CyclePlan> {
      const progress = new CycleProgressReporter(Context.current(), input.cycleId);
      progress.begin('starting');
      // Single statements over a large audience run longer than the heartbeat timeout; the worker is still alive.
      const ticker = setInterval(() => progress.heartbeat(), HEARTBEAT_EVERY_MS);
      try {
        return await failingOnBrokenInvariants(() => prepare(deps, input, progress));
      } finally {
        clearInterval(ticker);
      }
    },
  };
}

async function prepare(deps: ActivityDependencies, input: PrepareCycleInput, progress: CycleProgressReporter): Promise<CyclePlan> {
  const log = Context.current().log;
  const tables = cycleTables(input.cycleId);
  // Rows built with other options are rebuilt: the normalization, the default country, LDU and the value column.
  const basis = [
    `${MATCHING_VERSION}:${input.defaultCountry ?? ''}`,
    ...(input.limitedDataUse ? [`ldu-${input.limitedDataUse}`] : []),
    ...(input.valueColumn !== undefined ? [`value-${input.valueColumn}`] : []),
  ].join(':');
  const schema = uploadSchema(input.limitedDataUse, input.valueColumn !== undefined);
  const claim: AttemptClaim = { audienceKey: input.audienceKey, attempt: randomUUID() };
  const replace = await inTransaction(deps.pool, async (client) => {
    const owed = await claimAudienceForCycle(client, { ...input, uploadSchema: schema });
    await claimForAttempt(client, claim);
    await openCycle(client, input);
    await createCycleTables(client, tables);
    return owed;
  });
  // Any audience's, those of the cycles openCycle has just abandoned among them.
  await dropTablesLeftByCycles(deps.pool);
  if (replace) log.info('the cycle replaces the audience at Meta', { reason: replace });

  // Anything but one read-only SELECT fails the cycle before a byte of it reaches a database.
  const query = await fromSource(checkAudienceSql(input.sourceSql), deps.sourceLimits);
  const sourceWarning = await ensureSourceFit(deps.sourceAccess);

  const started = Date.now();
  let scope: RebuildScope | undefined;
  let sourceRows = 0;
  let rebuiltMembers = 0;
  let passTwo: PassTwo = { sourceRows: 0, withoutUserId: 0, drops: {}, tally: emptyTally() };
  await withSourceSession(deps.sourcePool, async (source) => {
    // One snapshot for both passes, read-only: the query can see what it is allowed to and change nothing.
    await fromSource(beginSourceTransaction(source, 'REPEATABLE READ'), deps.sourceLimits);
    let changedIds: string[] | undefined;
    /** Known when pass 1 ran; a first cycle, or a rebuild with other options, learns it only as it reads. */
    let rowsToEncode: number | undefined;
    if (await membersReusable(deps.pool, input.audienceKey, basis)) {
      progress.begin('reading', { rows: 0 });
      sourceRows = await copyFingerprints(deps, query, source, tables, progress, claim);
      progress.begin('comparing');
      // The query may have switched the timeouts off for the session: they hold again while the source waits.
      await fromSource(assertSourceSettings(source, deps.sourceLimits), deps.sourceLimits);
      const changes = await inClaimedTransaction(deps.pool, claim, 'SHARE', (client) =>
        findChangedMembers(client, input.audienceKey, tables),
      );
      log.info('compared fingerprints', { ...changes, sourceMembers: sourceRows, ms: Date.now() - started });
      if (changes.changed + changes.left > 0) {
        if (changes.changed > sourceRows * FULL_REBUILD_SHARE) {
          scope = 'all';
          rowsToEncode = sourceRows;
        } else {
          scope = 'changed';
          changedIds = await inTransaction(deps.pool, async (client) => {
            // Ids come from the source: one longer than a row may be is not loaded, as pass 2 would not take it.
            if ((await longestChangedMemberId(client, tables)) > MAX_SOURCE_ROW_BYTES) {
              throw oversizedRowFailure(MAX_SOURCE_ROW_BYTES);
            }
            return changedMemberIds(client, tables);
          });
          rowsToEncode = changedIds.length;
        }
      }
    } else {
      scope = 'all';
    }
    // Members that only left are staged nowhere, but the cycle's statements read the (empty) staging all the same.
    if (scope) {
      await inClaimedTransaction(deps.pool, claim, 'SHARE', (client) => createStaging(client, tables, scope === 'all'));
    }
    if (scope === 'all' || (changedIds && changedIds.length > 0)) {
      progress.begin('encoding', { rows: 0, ...(rowsToEncode === undefined ? {} : { totalRows: rowsToEncode }) });
      passTwo = await stageMembers(deps, input, query, source, tables, changedIds, progress, claim);
      rebuiltMembers = passTwo.sourceRows - passTwo.withoutUserId;
      if (scope === 'all') sourceRows = passTwo.sourceRows;
      log.info('staged changed members', { scope, rebuiltMembers, ms: Date.now() - started });
    }
    // Nothing read needs keeping, and what a SELECT managed to do anyway (a large object, a NOTIFY) is undone.
    await fromSource(source.query('ROLLBACK'), deps.sourceLimits);
  });

  progress.begin('writing');
  const loaded = scope === 'all' && (await loadFirstMembers(deps.pool, claim, input.cycleId, tables, rebuiltMembers));
  const firstLoad = loaded !== false;
  // Every member staged was stored, once: the membership is what pass 2 counted, and the plan, which holds the
  // audience's record, does not read ten million members back to count them.
  const loadedMembership = loaded === rebuiltMembers ? tallied(passTwo.tally) : undefined;
  // Nothing this attempt read or wrote is planned from once a later attempt has claimed the audience.
  const planned = await inClaimedTransaction(deps.pool, claim, 'UPDATE', async (client) => {
    // Unless every member is rebuilt, the membership is the last one counted, moved by the members that changed
    // (counted before and after they are rebuilt): a delta does not count a million members again.
    const last = scope === 'all' ? undefined : await lastCountedMembership(client, input.audienceKey);
    const before = scope === 'changed' && last ? await audienceMembership(client, input.audienceKey, tables) : undefined;
    if (firstLoad) {
      await recordBasis(client, input.audienceKey, basis);
    } else {
      // What an interrupted first load left unsent is listed before anything plans from pending rows: its cycle
      // recorded no basis, so the claim did not list it, and this cycle does not load it again.
      await listUnsentLoad(client, input.audienceKey);
      if (scope) await applyMemberChanges(client, input.audienceKey, tables, scope, basis);
    }
    const plan = replace
      ? { adds: await planReplaceBatches(client, input.audienceKey, input.cycleId, deps.batchSize), removes: 0, syncedBefore: 0 }
      : await planBatches(client, input.audienceKey, input.cycleId, deps.batchSize, firstLoad);
    const generation = await advanceGeneration(client, input.audienceKey);
    await recordUploadSchema(client, input.audienceKey, schema);
    const { members, coverage } =
      last === undefined
        ? (loadedMembership ?? (await audienceMembership(client, input.audienceKey)))
        : before === undefined
          ? last
          : movedMembership(last, before, await audienceMembership(client, input.audienceKey, tables));
    const decided = decideCycle({ ...plan, ...input, members, replacing: replace !== undefined });
    const { decision } = decided;
    const message =
      replace && decision !== 'upload' ? [decided.message, replacePendingMessage(replace)].filter(Boolean).join(' ') : decided.message;
    const drops = withMissingUserIds(passTwo.drops, passTwo.withoutUserId);
    const result: CyclePlan = {
      cycleId: input.cycleId,
      decision,
      members,
      sourceRows,
      rebuiltMembers,
      adds: plan.adds,
      removes: plan.removes,
      dropped: Object.values(drops).reduce((sum, count) => sum + count, 0),
      drops,
      coverage,
      ...(message ? { message } : {}),
      ...(sourceWarning ? { sourceWarning } : {}),
      ...(replace ? { replace } : {}),
      generation,
    };
    await recordPlan(client, input.cycleId, result);
    if (decision !== 'upload') await finishCycle(client, input.cycleId, decision, message ?? null);
    log.info('planned the cycle', { decision, adds: plan.adds, removes: plan.removes, replace, ms: Date.now() - started });
    return result;
  });
  // The upload reads none of them, and may take hours if Meta throttles it.
  await dropCycleTablesAfterCommit(deps.pool, input.cycleId);
  return planned;
}

/**
 * Commits a pass's COPY into the cycle's tables unless a later attempt has claimed the audience, which may have
 * created those tables anew meanwhile (see assertClaimed). Checked last, not first: nothing holds the audience's
 * record while the source is read, which may take minutes.
 */
async function commitForAttempt(client: PoolClient, claim: AttemptClaim): Promise<void> {
  await assertClaimed(client, claim);
  await client.query('COMMIT');
}

/**
 * Pass 1: COPY from the source straight into our fingerprints table. Returns the rows copied, which the table then
 * holds (the COPY's transaction emptied it first): counting them again took most of a second at ten million.
 */
async function copyFingerprints(
  deps: ActivityDependencies,
  query: AudienceSql,
  source: PoolClient,
  tables: CycleTables,
  progress: CycleProgressReporter,
  claim: AttemptClaim,
): Promise<number> {
  return withClient(deps.pool, async (target) => {
    // The transaction opens before the source's stream exists, which must have its error listener from the start.
    const copyStatement = await beginCopyIntoFingerprints(target, tables);
    const out = await fromSource(copyFromSource(source, query, FINGERPRINT_COPY, deps.sourceLimits), deps.sourceLimits);
    const into = target.query(copyFrom(copyStatement));
    let sourceError: unknown;
    out.once('error', (error) => (sourceError = error));
    try {
      await pipeline(out, countingRows(progress), into);
    } catch (error) {
      throw sourceError ? sourceQueryFailure(sourceError, deps.sourceLimits) : error;
    }
    await commitForAttempt(target, claim);
    return into.rowCount;
  });
}

/**
 * Passes pass 1's COPY text on, reporting how many rows (each ends with a newline) have gone by: a few times a
 * second and once at the end. The text arrives a few hundred rows at a time, and a report per piece was some
 * 30,000 heartbeats in a cycle over ten million members, each about 0.1 ms of the worker's main thread.
 */
function countingRows(progress: CycleProgressReporter): Transform {
  let rows = 0;
  let reportedAt = -Infinity;
  return new Transform({
    transform(chunk: Buffer, _encoding, done) {
      for (let at = chunk.indexOf(NEWLINE); at >= 0; at = chunk.indexOf(NEWLINE, at + 1)) rows++;
      // A monotonic clock: set back, the wall clock would hold the count still until it caught up.
      const now = performance.now();
      if (now - reportedAt >= ROWS_REPORTED_EVERY_MS) {
        reportedAt = now;
        progress.advance({ rows });
      }
      done(null, chunk);
    },
    flush(done) {
      progress.advance({ rows });
      done();
    },
  });
}

/**
 * Pass 2: streams the source rows of the members to rebuild into the encoder, and the encoder's output into COPY,
 * with a bounded number of chunks in flight: memory stays flat however large the audience.
 */
async function stageMembers(
  deps: ActivityDependencies,
  input: PrepareCycleInput,
  query: AudienceSql,
  source: PoolClient,
  tables: CycleTables,
  onlyMembers: string[] | undefined,
  progress: CycleProgressReporter,
  claim: AttemptClaim,
): Promise<PassTwo> {
  const totals: PassTwo = { sourceRows: 0, withoutUserId: 0, drops: {}, tally: emptyTally() };
  const options: MemberRowsOptions = {
    ...(input.defaultCountry ? { defaultCountry: input.defaultCountry } : {}),
    ...(input.limitedDataUse ? { limitedDataUse: input.limitedDataUse } : {}),
    ...(input.valueColumn !== undefined ? { valueColumn: input.valueColumn } : {}),
  };
  return withClient(deps.pool, async (target) => {
    await target.query('BEGIN');
    const copy = target.query(copyFrom(copyIntoStaging(tables)));
    const copyFailed = once(copy, 'error').then(([error]) => Promise.reject(error));
    copyFailed.catch(() => undefined);
    copy.write(COPY_BINARY_HEADER);

    // A chunk's tuples are written into the memory of earlier chunks the COPY has sent: new memory for each chunk
    // set off full collections on this thread (member-encoding-thread).
    const chunkMemory = new CopyMemory(copy, target);
    const write = async (chunk: EncodedChunk): Promise<void> => {
      totals.sourceRows += chunk.sourceRows;
      totals.withoutUserId += chunk.withoutUserId;
      mergeCounts(totals.drops, chunk.drops);
      addTally(totals.tally, chunk.tally);
      if (chunk.copyData.length > 0 && !copy.write(chunk.copyData)) await Promise.race([once(copy, 'drain'), copyFailed]);
      chunkMemory.written(chunk.copyData.buffer as ArrayBuffer);
      progress.advance({ rows: totals.sourceRows });
    };
    const encoder =
      onlyMembers !== undefined && onlyMembers.length <= FEW_MEMBERS ? CALLING_THREAD_ENCODER : deps.encoder;
    const chunks = sourceMemberChunks(source, query, onlyMembers, deps.sourceLimits);
    await encodeEachChunk(chunks, encoder.parallelism, (chunk) => encoder.encode(chunk, options, chunkMemory.take()), write);
    copy.end(COPY_BINARY_TRAILER);
    await Promise.race([once(copy, 'finish'), copyFailed]);
    await commitForAttempt(target, claim);
    return totals;
  });
}
