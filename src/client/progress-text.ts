import ms from 'ms';
import type { CycleStage } from '../activities/cycle-progress';
import type { CycleProgressReport } from './cycle-progress-report';

const STAGE_NAMES: Record<CycleStage, string> = {
  starting: 'starting the cycle',
  reading: 'reading the source',
  comparing: 'comparing with the last cycle',
  encoding: 'encoding members',
  writing: 'writing state',
  replacing: 'replacing the audience at Meta',
  uploading: 'uploading',
};

const ACTIVITY_NAMES: Record<CycleProgressReport['activity'], string> = {
  prepareCycle: 'the cycle',
  uploadCycle: 'the upload',
};

/**
 * One line on where a running cycle is, e.g. "uploading batch 6 of 12: 50,000 of 110,000 rows (45%), 12,000
 * rows/s, about 5 seconds left". Counts and times only.
 */
export function describeProgress(report: CycleProgressReport): string {
  const line =
    report.stage !== null
      ? `${stageName(report, report.stage)}${stageCounts(report)}`
      : `${report.started ? 'starting' : 'waiting for a worker to start'} ${ACTIVITY_NAMES[report.activity]}`;
  if (report.retry) {
    const at = report.retry.at ? ` at ${report.retry.at}` : '';
    const why = report.retry.lastFailure ? `; the last one failed: ${report.retry.lastFailure}` : '';
    return `${line}; attempt ${report.attempt} starts${at}${why}`;
  }
  return report.attempt > 1 ? `${line} (attempt ${report.attempt})` : line;
}

function stageName(report: CycleProgressReport, stage: CycleStage): string {
  if (report.batches === null || report.totalBatches === null || report.totalBatches === 0) return STAGE_NAMES[stage];
  // The batch being sent; with several in flight, the first of them.
  const batch = Math.min(report.batches + 1, report.totalBatches);
  return `${STAGE_NAMES[stage]}${stage === 'uploading' ? '' : ','} batch ${batch} of ${report.totalBatches}`;
}

function stageCounts(report: CycleProgressReport): string {
  if (report.rows === null) {
    const elapsedMs = report.stageStartedAt && report.updatedAt ? Date.parse(report.updatedAt) - Date.parse(report.stageStartedAt) : 0;
    return elapsedMs >= 1000 ? ` (${ms(elapsedMs, { long: true })} so far)` : '';
  }
  const parts = [
    report.totalRows === null
      ? `${count(report.rows)} rows`
      : `${count(report.rows)} of ${count(report.totalRows)} rows (${percent(report.rows, report.totalRows)}%)`,
  ];
  // While an attempt waits to start, the last one's rate says nothing of when the stage ends.
  if (report.retry) return `: ${parts.join(', ')}`;
  if (report.rowsPerSecond !== null) parts.push(`${count(report.rowsPerSecond)} rows/s`);
  if (report.secondsLeft) parts.push(`about ${ms(report.secondsLeft * 1000, { long: true })} left`);
  return `: ${parts.join(', ')}`;
}

const count = (value: number): string => value.toLocaleString('en-US');

function percent(done: number, total: number): number {
  return total === 0 ? 100 : Math.min(100, Math.floor((100 * done) / total));
}
