import { decodePendingActivityState, type WorkflowExecutionDescription } from '@temporalio/client';
import type { LoadedDataConverter } from '@temporalio/common';
import { decodeFromPayloadsAtIndex } from '@temporalio/common/lib/internal-non-workflow';
import { optionalTsToMs } from '@temporalio/common/lib/time';
import type { AudienceSyncActivities } from '../activities';
import { cycleProgressSchema, type CycleProgress, type CycleStage } from '../activities/cycle-progress';

/** The activities of a cycle that report their progress: reading the source into our tables, and the upload. */
const CYCLE_ACTIVITIES = ['prepareCycle', 'uploadCycle'] as const satisfies readonly (keyof AudienceSyncActivities)[];
export type CycleActivity = (typeof CYCLE_ACTIVITIES)[number];

/** A rate taken over less time than this is the first chunk's or batch's noise, not a rate. */
const MIN_RATE_SECONDS = 1;

/**
 * Where a running cycle is, as `status` and `sync-now --wait` show it: read from its pending activity's heartbeat
 * details, so it is at most a few seconds old (the worker's heartbeat throttle). Counts and times only.
 */
export interface CycleProgressReport {
  activity: CycleActivity;
  /** A worker runs the activity (else it waits for one, or for its next attempt). */
  started: boolean;
  /** The fields from here to secondsLeft are null until the activity first reports its stage. */
  cycleId: string | null;
  stage: CycleStage | null;
  stageStartedAt: string | null;
  /** When the counts were taken. */
  updatedAt: string | null;
  /** Rows the stage has read, encoded or had Meta answer; null in a stage that counts none. */
  rows: number | null;
  totalRows: number | null;
  /** Upload stages: batches Meta has answered, of those planned. */
  batches: number | null;
  totalBatches: number | null;
  /** This attempt's rate in the stage, and the stage's time left at that rate (when the stage's total is known). */
  rowsPerSecond: number | null;
  secondsLeft: number | null;
  attempt: number;
  /** Set while the activity waits for its next attempt: when that starts, and why the last one failed. */
  retry: { at: string | null; lastFailure: string | null } | null;
}

/** The progress of the cycle the workflow is running, or null when it runs none of the cycle's activities. */
export async function readCycleProgress(
  description: WorkflowExecutionDescription,
  converter: LoadedDataConverter,
): Promise<CycleProgressReport | null> {
  const pending = description.raw.pendingActivities?.find((activity) =>
    (CYCLE_ACTIVITIES as readonly string[]).includes(activity.activityType?.name ?? ''),
  );
  if (!pending) return null;
  const payloads = pending.heartbeatDetails?.payloads;
  // A worker of another version may heartbeat other details (or none yet): the stage is then unknown.
  const parsed = cycleProgressSchema.safeParse(payloads?.length ? await decodeFromPayloadsAtIndex(converter, 0, payloads) : undefined);
  const progress = parsed.success ? parsed.data : undefined;
  const attempt = pending.attempt ?? 1;
  const state = decodePendingActivityState(pending.state);
  const nextAttemptAt = optionalTsToMs(pending.nextAttemptScheduleTime);
  return {
    activity: pending.activityType?.name as CycleActivity,
    started: state === 'STARTED',
    cycleId: progress?.cycleId ?? null,
    stage: progress?.stage ?? null,
    stageStartedAt: progress ? new Date(progress.startedAt).toISOString() : null,
    updatedAt: progress ? new Date(progress.at).toISOString() : null,
    rows: progress?.rows ?? null,
    totalRows: progress?.totalRows ?? null,
    batches: progress?.batches ?? null,
    totalBatches: progress?.totalBatches ?? null,
    ...(progress ? stageRate(progress) : { rowsPerSecond: null, secondsLeft: null }),
    attempt,
    retry:
      attempt > 1 && state === 'SCHEDULED'
        ? {
            at: nextAttemptAt === undefined ? null : new Date(nextAttemptAt).toISOString(),
            lastFailure: pending.lastFailure?.message || null,
          }
        : null,
  };
}

/**
 * Rows per second this attempt has handled in the stage, on the worker's clock alone (so a client's clock does
 * not skew it), and the seconds the rest of the stage takes at that rate.
 */
export function stageRate(progress: CycleProgress): Pick<CycleProgressReport, 'rowsPerSecond' | 'secondsLeft'> {
  const seconds = (progress.at - progress.startedAt) / 1000;
  const handled = (progress.rows ?? 0) - (progress.resumedRows ?? 0);
  if (seconds < MIN_RATE_SECONDS || handled <= 0) return { rowsPerSecond: null, secondsLeft: null };
  const rowsPerSecond = handled / seconds;
  const rowsLeft = progress.totalRows === undefined ? undefined : Math.max(0, progress.totalRows - (progress.rows ?? 0));
  return {
    rowsPerSecond: Math.round(rowsPerSecond),
    secondsLeft: rowsLeft === undefined ? null : Math.ceil(rowsLeft / rowsPerSecond),
  };
}
