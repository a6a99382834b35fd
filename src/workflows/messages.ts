import { defineQuery, defineSignal, defineUpdate } from '@temporalio/workflow';
import type { AudienceStatus, CycleSummary } from './audience-status';
import type { LookalikeSpec } from './lookalike-spec';

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

/** Adds or removes one of the audience's lookalikes; answered once it is made (or deleted) at Meta. */
export const lookalikeUpdate = defineUpdate<LookalikeChangeResult, [LookalikeChange]>('lookalike');

export interface LookalikeChangeResult {
  status: AudienceStatus;
  /** For a removal with `deleteAtMeta`: whether Meta held the lookalike, which is now deleted. */
  deletedAtMeta?: boolean;
}

export const statusQuery = defineQuery<AudienceStatus>('status');

export type LookalikeChange =
  | { add: LookalikeSpec }
  /** `deleteAtMeta` deletes it at Meta too; otherwise it stays there, no longer kept. */
  | { remove: LookalikeSpec; deleteAtMeta?: boolean };

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
