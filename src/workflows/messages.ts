import { defineQuery, defineSignal, defineUpdate } from '@temporalio/workflow';
import type { AudienceStatus, CycleSummary } from './audience-status';

/**
 * Each operation exists as a signal, which the Temporal Web UI can send, and as an update with a validator,
 * which the CLI uses so that it gets a confirmed result or a clear rejection.
 */
export const pauseSignal = defineSignal<[]>('pause');
export const resumeSignal = defineSignal<[]>('resume');
export const renameSignal = defineSignal<[string]>('rename');
export const syncNowSignal = defineSignal<[SyncNowOptions?]>('syncNow');

export const pauseUpdate = defineUpdate<AudienceStatus, []>('pause');
export const resumeUpdate = defineUpdate<AudienceStatus, []>('resume');
export const renameUpdate = defineUpdate<AudienceStatus, [string]>('rename');
/** Resolves when the requested cycle is accepted, or, with `wait`, when it has finished. */
export const syncNowUpdate = defineUpdate<SyncNowResult, [SyncNowOptions]>('syncNow');

export const statusQuery = defineQuery<AudienceStatus>('status');

export interface SyncNowOptions {
  wait?: boolean;
  allowMassRemoval?: boolean;
  /** Replace the audience's whole membership at Meta with the current members. */
  replace?: boolean;
}

export interface SyncNowResult {
  status: AudienceStatus;
  /** The cycle that ran for this request, when the caller waited for it. */
  cycle?: CycleSummary;
}
