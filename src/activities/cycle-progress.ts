import type { Context } from '@temporalio/activity';
import { z } from 'zod';
import type { PlannedBatch } from '../db/change-plan';

/** What a cycle's activity is doing, in the order a cycle does it. */
export const CYCLE_STAGES = ['starting', 'reading', 'comparing', 'encoding', 'writing', 'replacing', 'uploading'] as const;
export type CycleStage = (typeof CYCLE_STAGES)[number];

const count = z.number().int().nonnegative();

/**
 * A cycle activity's progress, sent as its heartbeat details. The CLI reads them from the workflow's pending
 * activity (DescribeWorkflowExecution), so progress costs no history event. Counts and times only. Checked when
 * read, since a worker of another version may heartbeat something else.
 */
export const cycleProgressSchema = z.object({
  cycleId: z.string(),
  stage: z.enum(CYCLE_STAGES),
  /** Epoch ms on the worker's clock: when this attempt began the stage, and when these counts were taken. */
  startedAt: z.number(),
  at: z.number(),
  /** Source rows read or encoded, or rows of the batches Meta has answered; absent in a stage that counts none. */
  rows: count.optional(),
  /** The rows the stage handles in all, when known before it ends. */
  totalRows: count.optional(),
  /** Rows an earlier attempt had handled when this one took the stage over: not part of this attempt's rate. */
  resumedRows: count.optional(),
  /** Upload stages: batches Meta has answered, of those planned. */
  batches: count.optional(),
  totalBatches: count.optional(),
});
export type CycleProgress = z.infer<typeof cycleProgressSchema>;

type StageCounts = Omit<CycleProgress, 'cycleId' | 'stage' | 'startedAt' | 'at'>;

/**
 * Keeps a cycle activity's progress and heartbeats with it. Every heartbeat carries the details, because a
 * heartbeat without them would erase the last ones at the server. The worker throttles what reaches the server
 * (see the worker's maxHeartbeatThrottleInterval), but each report still costs the worker about 0.1 ms: a
 * chunk or a batch may report, a stream of small pieces reports a few times a second (see countingRows).
 */
export class CycleProgressReporter {
  private progress: CycleProgress | undefined;

  constructor(
    private readonly context: Context,
    private readonly cycleId: string,
  ) {}

  /** Starts a stage and reports it. */
  begin(stage: CycleStage, counts: Partial<StageCounts> = {}): void {
    const now = Date.now();
    this.progress = { cycleId: this.cycleId, stage, startedAt: now, at: now, ...counts };
    this.context.heartbeat(this.progress);
  }

  /** Starts an upload stage over these batches; those an earlier attempt had Meta answer count as done. */
  beginUpload(stage: Extract<CycleStage, 'replacing' | 'uploading'>, batches: readonly PlannedBatch[]): void {
    const answered = batches.filter((batch) => batch.acknowledged);
    const rows = sumRows(answered);
    this.begin(stage, { rows, resumedRows: rows, totalRows: sumRows(batches), batches: answered.length, totalBatches: batches.length });
  }

  /** Counts one more batch Meta answered in the upload stage. */
  batchAnswered(batch: PlannedBatch): void {
    const { batches = 0, rows = 0 } = this.progress ?? {};
    this.advance({ batches: batches + 1, rows: rows + batch.rowCount });
  }

  /** Reports the stage's new counts. */
  advance(counts: Partial<StageCounts>): void {
    if (!this.progress) throw new Error('a cycle stage advanced before it began');
    this.progress = { ...this.progress, ...counts, at: Date.now() };
    this.context.heartbeat(this.progress);
  }

  /** Heartbeats during work that has nothing new to count (a long statement): the worker is still alive. */
  heartbeat(): void {
    this.advance({});
  }
}

const sumRows = (batches: readonly PlannedBatch[]): number => batches.reduce((sum, batch) => sum + batch.rowCount, 0);
