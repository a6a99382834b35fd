import {
  ActivityFailure,
  allHandlersFinished,
  ApplicationFailure,
  CancellationScope,
  condition,
  continueAsNew,
  isCancellation,
  log,
  metricMeter,
  proxyActivities,
  setCurrentDetails,
  setHandler,
  upsertSearchAttributes,
  uuid4,
  workflowInfo,
} from '@temporalio/workflow';
import type { AudienceSyncActivities } from '../activities';
import type { CyclePlan } from '../activities/cycle-preparation';
import type { UploadResult } from '../activities/cycle-upload';
import type { AudienceConfig } from './audience-config';
import {
  initialState,
  type AudienceStatus,
  type CarriedState,
  type CycleSummary,
  type SyncRequest,
  type SyncState,
} from './audience-status';
import { FailureType, type NeedsPersonDetails } from './failure-types';
import {
  pauseSignal,
  pauseUpdate,
  renameSignal,
  renameUpdate,
  resumeSignal,
  resumeUpdate,
  statusQuery,
  syncNowSignal,
  syncNowUpdate,
  lookalikeUpdate,
  type LookalikeChange,
  type SyncNowOptions,
} from './messages';
import { lookalikeLabel, MIN_LOOKALIKE_SEED, sameLookalike } from './lookalike-spec';
import * as SA from './search-attributes';
import { describeStatus, renderDetails } from './status-text';
import { createAudienceMetrics } from '../metrics/audience-metrics';

export interface AudienceSyncInput {
  config: AudienceConfig;
  /** Set by continue-as-new; absent when an audience is first connected. */
  state?: CarriedState;
}

const RETRY = { initialInterval: '1 second', backoffCoefficient: 2, maximumInterval: '5 minutes' } as const;

/** Calls to Meta that answer in seconds; retried (including Meta's throttling waits) for up to a day. */
const metaCalls = proxyActivities<AudienceSyncActivities>({
  startToCloseTimeout: '2 minutes',
  scheduleToCloseTimeout: '24 hours',
  retry: RETRY,
});
/** Streaming a large source and computing its delta; heartbeats reveal a dead worker within 30 s. */
const preparation = proxyActivities<AudienceSyncActivities>({
  startToCloseTimeout: '2 hours',
  heartbeatTimeout: '30 seconds',
  scheduleToCloseTimeout: '6 hours',
  retry: RETRY,
});
/** The upload resumes from its last acknowledged batch on every attempt, so it may retry for a long time. */
const upload = proxyActivities<AudienceSyncActivities>({
  startToCloseTimeout: '4 hours',
  heartbeatTimeout: '30 seconds',
  scheduleToCloseTimeout: '24 hours',
  retry: RETRY,
});
/** Lookalikes are kept beside the sync, not in its way: a few minutes of retries, then a problem shown in status. */
const lookalikeCalls = proxyActivities<AudienceSyncActivities>({
  startToCloseTimeout: '2 minutes',
  scheduleToCloseTimeout: '10 minutes',
  retry: RETRY,
});
/** Meta's view is read at the end of each cycle, which it must not hold up for long: a throttled read gives up. */
const metaViewRead = proxyActivities<AudienceSyncActivities>({
  startToCloseTimeout: '30 seconds',
  scheduleToCloseTimeout: '2 minutes',
  retry: RETRY,
});
const bookkeeping = proxyActivities<AudienceSyncActivities>({
  startToCloseTimeout: '1 minute',
  retry: RETRY,
});

/** A deleted audience is noticed on the next upload; an audience with no changes is checked at least daily. */
const VERIFY_EVERY_MS = 24 * 60 * 60 * 1000;
const MAX_NAME_LENGTH = 255;

/**
 * One long-lived workflow per connected audience: creates the Custom Audience once, then runs a sync cycle every
 * interval (or on request), parks when only a person can help, and continues as new before its history grows.
 * Only references and counts cross into activities and history.
 */
export async function audienceSyncWorkflow(input: AudienceSyncInput): Promise<void> {
  const config: AudienceConfig = { ...input.config };
  const s: CarriedState = input.state ?? initialState();
  let iterationsThisRun = 0;
  let cycleInProgress = false;
  let resumeRequested = false;
  let published: { state?: SyncState; members?: number; details?: string; lookalikes?: string } = {};
  let lookalikeWorkRunning = false;
  // Recorded only when a task first runs, never on replay, on the worker's metrics endpoint.
  const metrics = createAudienceMetrics(metricMeter);

  // A cycle shows as running until it is counted: its outcome's state with the last cycle still the one before
  // would tell a reader of status a mixed story.
  const visibleState = (): SyncState => {
    if (cycleInProgress) return s.state === 'creating' ? 'creating' : 'syncing';
    return s.paused ? 'paused' : s.state;
  };
  const status = (): AudienceStatus => describeStatus(config, s, visibleState());

  const publish = (lastSyncAt?: Date): void => {
    const state = visibleState();
    const members = s.memberCount;
    const updates: Parameters<typeof upsertSearchAttributes>[0] = [];
    if (state !== published.state) updates.push({ key: SA.SyncState, value: state });
    if (members !== undefined && members !== published.members) updates.push({ key: SA.MemberCount, value: members });
    if (lastSyncAt) updates.push({ key: SA.LastSyncAt, value: lastSyncAt });
    const lookalikes = (s.lookalikes ?? []).filter((known) => known.id).map((known) => `${known.country}:${known.percent}:${known.id}`);
    // Only audiences that have had lookalikes set the attribute, so a cluster without it registered runs the rest.
    if (lookalikes.join() !== (published.lookalikes ?? '')) updates.push({ key: SA.Lookalikes, value: lookalikes });
    // Each upsert is a history event, so only changes are written.
    if (updates.length > 0) upsertSearchAttributes(updates);
    const details = renderDetails(status());
    if (details !== published.details) setCurrentDetails(details);
    published = { state, members, details, lookalikes: lookalikes.join() };
  };

  const requestSync = (options: SyncNowOptions | undefined): void => {
    s.syncRequest = {
      allowMassRemoval: (s.syncRequest?.allowMassRemoval ?? false) || !!options?.allowMassRemoval,
      ...((s.syncRequest?.replace ?? false) || options?.replace ? { replace: true } : {}),
    };
  };
  const pause = (): void => {
    s.paused = true;
    publish();
  };
  const resume = (): void => {
    s.paused = false;
    if (s.attention) resumeRequested = true;
    publish();
  };
  const rename = (name: string): void => {
    config.name = name.trim();
    s.pendingRename = config.name;
    publish();
  };
  const validName = (name: unknown): string | undefined => {
    if (typeof name !== 'string' || !name.trim()) return 'the new name is empty';
    if (name.trim().length > MAX_NAME_LENGTH) return `the new name is longer than ${MAX_NAME_LENGTH} characters`;
    return undefined;
  };

  setHandler(pauseSignal, pause);
  setHandler(resumeSignal, resume);
  setHandler(renameSignal, (name) => {
    // A signal cannot be rejected; an invalid name from the Web UI is logged and ignored.
    const problem = validName(name);
    if (problem) log.warn('rename signal ignored', { problem });
    else rename(name);
  });
  setHandler(syncNowSignal, (options) => {
    if (!s.paused) requestSync(options);
  });
  setHandler(pauseUpdate, () => {
    pause();
    return status();
  });
  setHandler(resumeUpdate, () => {
    resume();
    return status();
  });
  setHandler(
    renameUpdate,
    (name) => {
      rename(name);
      return status();
    },
    {
      validator: (name) => {
        const problem = validName(name);
        if (problem) throw new Error(problem);
      },
    },
  );
  setHandler(
    syncNowUpdate,
    async (options) => {
      // A cycle already running started before this request; the requested one is the cycle after it.
      const target = s.cyclesCompleted + (cycleInProgress ? 2 : 1);
      requestSync(options);
      if (!options?.wait) return { status: status() };
      await condition(() => s.cyclesCompleted >= target);
      return { status: status(), cycle: s.lastCycle };
    },
    {
      validator: (_options: SyncNowOptions) => {
        if (s.paused) throw new Error(`audience ${config.audienceKey} is paused; resume it first`);
      },
    },
  );
  setHandler(
    lookalikeUpdate,
    async (change) => {
      const deletedAtMeta = await changeLookalikes(change);
      publish();
      return { status: status(), ...(deletedAtMeta !== undefined ? { deletedAtMeta } : {}) };
    },
    {
      validator: (change: LookalikeChange) => {
        const spec = 'add' in change ? change.add : change.remove;
        const kept = (config.lookalikes ?? []).some((known) => sameLookalike(known, spec));
        if ('add' in change && kept) throw new Error(`audience ${config.audienceKey} already keeps the lookalike ${lookalikeLabel(spec)}`);
        if ('remove' in change && !kept) throw new Error(`audience ${config.audienceKey} keeps no lookalike ${lookalikeLabel(spec)}`);
      },
    },
  );
  setHandler(statusQuery, status);

  const continueAsNewDue = (): boolean =>
    iterationsThisRun >= config.maxCyclesPerRun || workflowInfo().continueAsNewSuggested;
  const renameDue = (): boolean => s.pendingRename !== undefined && s.fbAudienceId !== undefined;

  async function applyRename(): Promise<void> {
    const name = s.pendingRename as string;
    try {
      await metaCalls.renameCustomAudience({
        audienceKey: config.audienceKey,
        adAccountId: config.adAccountId,
        fbAudienceId: s.fbAudienceId as string,
        name,
      });
      // A rename accepted while this one was in flight stays pending.
      if (s.pendingRename === name) s.pendingRename = undefined;
      if (s.lookalikes?.some((known) => known.id)) await keepLookalikes(s.fbAudienceId as string);
    } catch (error) {
      recordFailure(failureOf(error));
      s.nextCycleAt = Date.now() + config.intervalMs;
    }
    publish();
  }

  /** Waits out a needs-attention state: one cheap check per interval, or at once on resume / sync-now. */
  async function waitWhileParked(): Promise<void> {
    resumeRequested = false;
    const attention = s.attention as NonNullable<CarriedState['attention']>;
    const interrupted = await condition(
      () => resumeRequested || s.syncRequest !== undefined || s.paused || renameDue(),
      config.intervalMs,
    );
    iterationsThisRun++;
    if (interrupted && !resumeRequested && s.syncRequest === undefined) return;
    if (!interrupted) {
      const check =
        attention.cause === 'source_role'
          ? await bookkeeping.checkSourceAccess()
          : await metaCalls.checkAudienceAccess({
              adAccountId: config.adAccountId,
              fbAudienceId: s.fbAudienceId,
              termsOnly: attention.graphSubcode !== undefined && TERMS_SUBCODES.includes(attention.graphSubcode),
            });
      if (check.status === 'needs_person') {
        s.attention = { ...attention, reason: withValueBasedTerms(check.reason, attention.graphSubcode) };
        publish();
        return;
      }
      if (check.status === 'audience_gone') forgetGoneAudience();
    }
    s.attention = undefined;
    s.syncRequest ??= { allowMassRemoval: false };
  }

  function forgetGoneAudience(): void {
    s.goneFbAudienceId = s.fbAudienceId;
    s.fbAudienceId = undefined;
  }

  async function ensureAudience(): Promise<string> {
    if (s.fbAudienceId) return s.fbAudienceId;
    // An adopted audience Meta later deleted is replaced by one of our own, like any other.
    if (config.customAudienceId && !s.adopted) return adoptAudience(config.customAudienceId);
    const { fbAudienceId } = await metaCalls.ensureCustomAudience({
      audienceKey: config.audienceKey,
      adAccountId: config.adAccountId,
      name: config.name,
      customerFileSource: config.customerFileSource,
      valueBased: config.valueColumn !== undefined,
      goneFbAudienceId: s.goneFbAudienceId,
    });
    if (s.goneFbAudienceId) s.totals.recreated++;
    s.goneFbAudienceId = undefined;
    s.fbAudienceId = fbAudienceId;
    s.verifiedAt = Date.now();
    // The name given at connect time is the one just created with; only later renames need a call.
    if (s.pendingRename === config.name) s.pendingRename = undefined;
    return fbAudienceId;
  }

  async function adoptAudience(customAudienceId: string): Promise<string> {
    const { fbAudienceId, nameAtMeta } = await metaCalls.adoptCustomAudience({
      audienceKey: config.audienceKey,
      adAccountId: config.adAccountId,
      name: config.name,
      fbAudienceId: customAudienceId,
      valueBased: config.valueColumn !== undefined,
    });
    s.adopted = true;
    s.fbAudienceId = fbAudienceId;
    s.verifiedAt = Date.now();
    // The connection's name is the one to show at Meta.
    if (nameAtMeta !== config.name) s.pendingRename ??= config.name;
    return fbAudienceId;
  }

  const reconcileDue = (): boolean =>
    config.reconcileEveryMs !== undefined &&
    s.reconciledAt !== undefined &&
    Date.now() >= s.reconciledAt + config.reconcileEveryMs;

  async function runCycle(request: SyncRequest): Promise<void> {
    const cycleId = uuid4();
    const startedAt = new Date().toISOString();
    cycleInProgress = true;
    s.state = s.fbAudienceId ? 'syncing' : 'creating';
    publish();
    let summary: CycleSummary | undefined;
    let reconciling = false;
    try {
      const fbAudienceId = await ensureAudience();
      reconciling = !request.replace && reconcileDue();
      if (Date.now() - (s.verifiedAt ?? 0) > VERIFY_EVERY_MS) await verifyAudience(fbAudienceId);
      s.state = 'syncing';
      publish();
      const plan = await preparation.prepareCycle({
        audienceKey: config.audienceKey,
        adAccountId: config.adAccountId,
        name: config.name,
        cycleId,
        fbAudienceId,
        sourceSql: config.sourceSql,
        minSize: config.minSize,
        defaultCountry: config.defaultCountry,
        limitedDataUse: config.limitedDataUse,
        valueColumn: config.valueColumn,
        allowMassRemoval: request.allowMassRemoval,
        expectedGeneration: s.stateGeneration ?? 0,
        ...(request.replace ? { replace: 'requested' as const } : reconciling ? { replace: 'reconcile' as const } : {}),
        membersBefore: s.memberCount,
      });
      s.stateGeneration = plan.generation;
      const uploaded =
        plan.decision === 'upload'
          ? await upload.uploadCycle({ audienceKey: config.audienceKey, cycleId, fbAudienceId, adAccountId: config.adAccountId })
          : undefined;
      if (uploaded) s.verifiedAt = Date.now();
      s.memberCount = plan.members;
      summary = summarize(plan, uploaded, startedAt);
      s.state = STATE_AFTER[plan.decision];
      s.totals.added += summary.added;
      s.totals.removed += summary.removed;
      if (summary.outcome === 'replaced') s.totals.replaces = (s.totals.replaces ?? 0) + 1;
      // A reconciliation Meta would not make (1870144) is not tried again every cycle either.
      if (summary.outcome === 'replaced' || (reconciling && uploaded)) s.reconciledAt = Date.now();
      s.reconciledAt ??= Date.now();
    } catch (error) {
      if (isCancellation(error)) {
        await CancellationScope.nonCancellable(() =>
          bookkeeping.closeCycle({ cycleId, outcome: 'abandoned', message: 'The audience was disconnected.' }),
        );
        throw error;
      }
      const failure = failureOf(error);
      const outcome = recordFailure(failure);
      summary = failedSummary(cycleId, outcome, failure.message, startedAt);
      await bookkeeping.closeCycle({ cycleId, outcome, message: failure.message });
      if (failure.type === FailureType.AudienceGone) {
        forgetGoneAudience();
        // Everything is uploaded again into a new audience at once, not an interval later.
        s.syncRequest = request;
      } else if (failure.type === FailureType.CycleStateLost) {
        s.syncRequest = request;
      }
    }
    // Read while the cycle still counts as running: a `sync-now --wait` arriving meanwhile waits for the next one.
    if (s.fbAudienceId && !META_UNREADABLE_OUTCOMES.includes(summary.outcome)) await readAudienceAtMeta(s.fbAudienceId);
    cycleInProgress = false;
    s.lastCycle = summary;
    s.cyclesCompleted++;
    s.nextCycleAt = Date.now() + config.intervalMs;
    iterationsThisRun++;
    recordCycleMetrics(summary);
    publish(summary.outcome === 'failed' ? undefined : new Date(summary.finishedAt));
    // After the cycle is counted: a `sync-now --wait` arriving meanwhile waits for the next one, as it should.
    if (s.fbAudienceId && SYNCED_OUTCOMES.includes(summary.outcome) && (await keepLookalikes(s.fbAudienceId))) publish();
  }

  function recordCycleMetrics(summary: CycleSummary): void {
    const seconds = (Date.parse(summary.finishedAt) - Date.parse(summary.startedAt)) / 1000;
    metrics.cycleFinished(config.audienceKey, summary.outcome, seconds);
    metrics.droppedValues(config.audienceKey, summary.drops);
    if (s.memberCount !== undefined) metrics.members(config.audienceKey, s.memberCount);
  }

  /** Once per cycle: what Meta made of the audience. A failed read keeps the last figures and says why. */
  async function readAudienceAtMeta(fbAudienceId: string): Promise<void> {
    try {
      s.metaView = await metaViewRead.readAudienceAtMeta({ audienceKey: config.audienceKey, adAccountId: config.adAccountId, fbAudienceId });
    } catch (error) {
      const { message } = failureOf(error);
      // The figures, and when they were read, stay those of the last read that answered.
      s.metaView = {
        ...(s.metaView ?? { readAt: new Date().toISOString(), approximateSize: null, deliveryStatus: null, operationStatus: null }),
        problem: `Meta's view of the audience could not be read: ${message}`,
      };
    }
  }

  /** Runs lookalike work one piece at a time: a cycle and a `lookalike` update must not both make one lookalike. */
  async function withLookalikesLock<T>(work: () => Promise<T>): Promise<T> {
    while (lookalikeWorkRunning) await condition(() => !lookalikeWorkRunning);
    lookalikeWorkRunning = true;
    try {
      return await work();
    } finally {
      lookalikeWorkRunning = false;
    }
  }

  /**
   * Makes the connection's lookalikes exist beside the seed once it holds enough members at Meta, and says whether
   * it looked at them. Their failures are reported for each, not for the cycle: the audience itself is in sync.
   */
  async function keepLookalikes(seedId: string): Promise<boolean> {
    if ((config.lookalikes ?? []).length === 0 || (s.memberCount ?? 0) < MIN_LOOKALIKE_SEED) return false;
    await withLookalikesLock(async () => {
      const wanted = config.lookalikes ?? [];
      try {
        s.lookalikes = await lookalikeCalls.keepLookalikes({
          audienceKey: config.audienceKey,
          adAccountId: config.adAccountId,
          seedId,
          seedName: config.name,
          lookalikes: wanted,
        });
      } catch (error) {
        const { message } = failureOf(error);
        s.lookalikes = wanted.map((spec) => ({
          ...(s.lookalikes?.find((known) => sameLookalike(known, spec)) ?? { ...spec, id: null, approximateSize: null }),
          problem: `Its lookalikes could not be checked at Meta: ${message}`,
        }));
      }
    });
    return true;
  }

  /** Returns, for a removal with `deleteAtMeta`, whether Meta held the lookalike and deleted it. */
  async function changeLookalikes(change: LookalikeChange): Promise<boolean | undefined> {
    if ('add' in change) {
      config.lookalikes = [...(config.lookalikes ?? []), change.add];
      if (s.fbAudienceId) await keepLookalikes(s.fbAudienceId);
      return undefined;
    }
    return withLookalikesLock(async () => {
      // Deleted first: if Meta refuses, the lookalike is still kept and the removal can be asked for again.
      const deleted =
        change.deleteAtMeta && s.fbAudienceId
          ? await lookalikeCalls.deleteLookalike({
              audienceKey: config.audienceKey,
              adAccountId: config.adAccountId,
              seedId: s.fbAudienceId,
              lookalike: change.remove,
            })
          : undefined;
      config.lookalikes = (config.lookalikes ?? []).filter((spec) => !sameLookalike(spec, change.remove));
      s.lookalikes = s.lookalikes?.filter((known) => !sameLookalike(known, change.remove));
      return deleted;
    });
  }

  async function verifyAudience(fbAudienceId: string): Promise<void> {
    const check = await metaCalls.checkAudienceAccess({
      adAccountId: config.adAccountId,
      fbAudienceId,
      termsOnly: false,
    });
    if (check.status === 'audience_gone') {
      throw ApplicationFailure.nonRetryable('The Custom Audience no longer exists at Meta.', FailureType.AudienceGone);
    }
    s.verifiedAt = Date.now();
  }

  /**
   * A value-based audience needs its own terms accepted too (reference §1). Meta documents no error of its own for
   * them, so whenever the terms are refused the sentence names both.
   */
  function withValueBasedTerms(reason: string, graphSubcode: number | undefined): string {
    if (config.valueColumn === undefined || graphSubcode === undefined || !CUSTOM_AUDIENCE_TERMS_SUBCODES.includes(graphSubcode)) {
      return reason;
    }
    return `${reason} A value-based audience also needs the value-based audience terms accepted for the ad account, at ${VALUE_BASED_TERMS_URL}.`;
  }

  /** Sets the state a failed step leaves the audience in and returns the cycle outcome to record. */
  function recordFailure(failure: Failure): 'failed' | 'needs_attention' | 'audience_gone' {
    if (failure.type === FailureType.NeedsPerson) {
      const details = failure.details as NeedsPersonDetails | undefined;
      s.attention = {
        reason: withValueBasedTerms(details?.reason ?? failure.message, details?.graphSubcode),
        since: new Date().toISOString(),
        graphCode: details?.graphCode,
        graphSubcode: details?.graphSubcode,
        ...(details?.cause ? { cause: details.cause } : {}),
      };
      s.state = 'needs_attention';
      return 'needs_attention';
    }
    if (failure.type === FailureType.AudienceGone) return 'audience_gone';
    s.state = 'failed';
    return 'failed';
  }

  try {
    publish();
    for (;;) {
      if (renameDue()) {
        await applyRename();
      } else if (s.paused) {
        await condition(() => !s.paused || renameDue());
      } else if (continueAsNewDue() && s.syncRequest === undefined) {
        // Handlers still running (a syncNow waiting for its cycle) must finish before the run ends.
        await condition(() => allHandlersFinished() || s.syncRequest !== undefined || renameDue());
        if (allHandlersFinished() && s.syncRequest === undefined && !renameDue()) break;
      } else if (s.attention) {
        await waitWhileParked();
      } else if (s.syncRequest) {
        const request = s.syncRequest;
        s.syncRequest = undefined;
        await runCycle(request);
      } else {
        // A cycle that came due while paused (or before a continue-as-new) runs without a zero-length timer.
        const remaining = (s.nextCycleAt ?? 0) - Date.now();
        const interrupted =
          remaining > 0 && (await condition(() => s.syncRequest !== undefined || s.paused || renameDue(), remaining));
        if (!interrupted) s.syncRequest = { allowMassRemoval: false };
      }
    }
  } catch (error) {
    if (isCancellation(error)) upsertSearchAttributes([{ key: SA.SyncState, value: 'disconnected' }]);
    throw error;
  }
  await continueAsNew<typeof audienceSyncWorkflow>({ config, state: s });
}

const STATE_AFTER: Record<CyclePlan['decision'], SyncState> = {
  upload: 'synced',
  unchanged: 'synced',
  below_minimum: 'below_minimum',
  needs_confirmation: 'needs_confirmation',
};

/** Cycles after which reading the audience at Meta would only fail again: access is refused, or it is gone. */
const META_UNREADABLE_OUTCOMES = ['needs_attention', 'audience_gone'];

/** Cycles after which the audience at Meta is as its members are: its lookalikes can be kept. */
const SYNCED_OUTCOMES = ['synced', 'replaced', 'unchanged'];

/** Meta's subcodes for terms not accepted: the parked check then asks the ad account, not the audience. */
const TERMS_SUBCODES = [1870034, 1870090, 1870092];
/** Of those, the Custom Audience terms' (1870092 is the Business Tools terms'). */
const CUSTOM_AUDIENCE_TERMS_SUBCODES = [1870034, 1870090];
const VALUE_BASED_TERMS_URL = 'https://www.facebook.com/customaudiences/value_based/tos.php';

interface Failure {
  type?: string;
  message: string;
  details?: unknown;
}

/** What an activity failure says, for the workflow to branch on; anything else is a bug and fails the task. */
function failureOf(error: unknown): Failure {
  if (error instanceof ApplicationFailure) {
    return { type: error.type ?? undefined, message: error.message, details: error.details?.[0] };
  }
  if (!(error instanceof ActivityFailure)) throw error;
  const cause = error.cause;
  if (cause instanceof ApplicationFailure) {
    return { type: cause.type ?? undefined, message: cause.message, details: cause.details?.[0] };
  }
  return { message: cause?.message ?? error.message };
}

function summarize(plan: CyclePlan, uploaded: UploadResult | undefined, startedAt: string): CycleSummary {
  const message = uploaded?.message ?? plan.message;
  return {
    cycleId: plan.cycleId,
    outcome: plan.decision !== 'upload' ? plan.decision : (uploaded?.outcome ?? 'synced'),
    startedAt,
    finishedAt: new Date().toISOString(),
    members: plan.members,
    rebuiltMembers: plan.rebuiltMembers,
    adds: plan.adds,
    removes: plan.removes,
    added: uploaded?.added ?? 0,
    removed: uploaded?.removed ?? 0,
    replaced: uploaded?.replaced ?? 0,
    dropped: plan.dropped,
    drops: plan.drops,
    coverage: plan.coverage,
    invalidEntries: uploaded?.invalidEntries ?? 0,
    ...(message ? { message } : {}),
    ...(plan.sourceWarning ? { sourceWarning: plan.sourceWarning } : {}),
  };
}

function failedSummary(cycleId: string, outcome: string, message: string, startedAt: string): CycleSummary {
  return {
    cycleId,
    outcome,
    startedAt,
    finishedAt: new Date().toISOString(),
    members: 0,
    rebuiltMembers: 0,
    adds: 0,
    removes: 0,
    added: 0,
    removed: 0,
    replaced: 0,
    dropped: 0,
    drops: {},
    coverage: {},
    invalidEntries: 0,
    message,
  };
}
