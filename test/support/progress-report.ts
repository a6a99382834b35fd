import type { CycleProgressReport } from '../../src/client/cycle-progress-report';

/** A cycle's progress as the client reads it: a cycle reading its source at 03:00, with the given changes. */
export function progressReport(overrides: Partial<CycleProgressReport>): CycleProgressReport {
  return {
    activity: 'prepareCycle',
    started: true,
    cycleId: 'c1',
    stage: 'reading',
    stageStartedAt: '2026-12-01T03:00:00.000Z',
    updatedAt: '2026-12-01T03:00:00.000Z',
    rows: null,
    totalRows: null,
    batches: null,
    totalBatches: null,
    rowsPerSecond: null,
    secondsLeft: null,
    attempt: 1,
    retry: null,
    ...overrides,
  };
}
