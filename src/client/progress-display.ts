import { setTimeout as sleep } from 'node:timers/promises';
import { Format, SingleBar, type Options, type Params } from 'cli-progress';
import type { CycleProgressReport } from './cycle-progress-report';
import { describeProgress } from './progress-text';

/** How often the workflow is described; the worker's heartbeat throttle (2 s) bounds how fresh it is anyway. */
const POLL_MS = 1000;
/** Without a terminal, a long stage still gets a line this often, for logs that show a cycle is moving. */
const PLAIN_LINE_EVERY_MS = 10_000;

export interface ProgressDisplay {
  /** Shows the cycle's progress as of `now` (epoch ms); null when the workflow runs none of the cycle's steps. */
  show(report: CycleProgressReport | null, now: number): void;
  stop(): void;
}

/**
 * Shows the running cycle's progress on `stream` until `until` settles, then returns what it settled with: a bar on
 * a terminal, plain lines otherwise. A failed read leaves the display as it was.
 */
export async function showCycleProgress<T>(
  stream: NodeJS.WriteStream,
  prefix: string,
  read: () => Promise<CycleProgressReport | null>,
  until: Promise<T>,
): Promise<T> {
  const display: ProgressDisplay = stream.isTTY
    ? new ProgressBar(stream)
    : new ProgressLines((line) => stream.write(`${prefix}${line}\n`), PLAIN_LINE_EVERY_MS);
  let settled = false;
  const done = until.then(
    () => (settled = true),
    () => (settled = true),
  );
  try {
    while (!settled) {
      const report = await read().catch(() => undefined);
      if (!settled && report !== undefined) display.show(report, Date.now());
      await Promise.race([sleep(POLL_MS), done]);
    }
  } finally {
    display.stop();
  }
  return until;
}

/**
 * A line when the cycle reaches a new stage (or attempt), and every `everyMs` while a stage goes on, for output
 * that is not a terminal.
 */
export class ProgressLines implements ProgressDisplay {
  private last: { milestone: string; text: string; at: number } | undefined;

  constructor(
    private readonly writeLine: (line: string) => void,
    private readonly everyMs: number,
  ) {}

  show(report: CycleProgressReport | null, now: number): void {
    if (!report) return;
    const text = describeProgress(report);
    const milestone = [report.activity, report.cycleId, report.stage, report.attempt, report.retry !== null].join('/');
    const due =
      !this.last || milestone !== this.last.milestone || (now - this.last.at >= this.everyMs && text !== this.last.text);
    if (!due) return;
    this.writeLine(text);
    this.last = { milestone, text, at: now };
  }

  stop(): void {}
}

interface BarPayload {
  text: string;
  /** The stage's total is known, so the bar has a length to fill. */
  measured: boolean;
}

/** One bar on a terminal, redrawn in place; cleared when the cycle ends, before its summary is printed. */
class ProgressBar implements ProgressDisplay {
  private readonly bar: SingleBar;
  private started = false;

  constructor(stream: NodeJS.WriteStream) {
    this.bar = new SingleBar({
      stream,
      format: barLine,
      barsize: 24,
      barCompleteChar: '█',
      barIncompleteChar: '░',
      clearOnComplete: true,
      hideCursor: true,
    });
  }

  show(report: CycleProgressReport | null): void {
    // cli-progress needs a total; a stage without one shows no bar, only its text.
    const fill = report && report.rows !== null && report.totalRows !== null ? { done: report.rows, of: report.totalRows } : undefined;
    const payload: BarPayload = {
      text: report ? describeProgress(report) : 'waiting for the cycle to start',
      measured: fill !== undefined,
    };
    const total = Math.max(fill?.of ?? 1, 1);
    const value = Math.min(fill?.done ?? 0, total);
    if (!this.started) {
      this.bar.start(total, value, payload);
      this.started = true;
    } else {
      this.bar.setTotal(total);
      this.bar.update(value, payload);
    }
  }

  stop(): void {
    if (this.started) this.bar.stop();
  }
}

function barLine(options: Options, params: Params, payload: BarPayload): string {
  const format = `${payload.measured ? '{bar} ' : ''}{text} | {duration_formatted}`;
  return Format.Formatter({ ...options, format }, params, payload);
}
