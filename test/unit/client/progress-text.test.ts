import type { CycleProgressReport } from '../../../src/client/cycle-progress-report';
import { progressReport as report } from '../../support/progress-report';
import { describeProgress } from '../../../src/client/progress-text';

const retry = { at: '2026-12-01T03:01:00.000Z', lastFailure: 'Meta asked for a pause in calls to ad account act_1; waiting 60 s.' };

describe('describeProgress', () => {
  it.each<[Partial<CycleProgressReport>, string]>([
    [{ started: false, stage: null, cycleId: null }, 'waiting for a worker to start the cycle'],
    [{ activity: 'uploadCycle', started: false, stage: null, cycleId: null }, 'waiting for a worker to start the upload'],
    [{ activity: 'uploadCycle', stage: null, cycleId: null }, 'starting the upload'],
    [{ stage: 'starting' }, 'starting the cycle'],
    [{ rows: 0 }, 'reading the source: 0 rows'],
    [{ rows: 1_250_000, rowsPerSecond: 410_000 }, 'reading the source: 1,250,000 rows, 410,000 rows/s'],
    [
      { stage: 'encoding', rows: 600_000, totalRows: 1_000_000, rowsPerSecond: 45_000, secondsLeft: 9 },
      'encoding members: 600,000 of 1,000,000 rows (60%), 45,000 rows/s, about 9 seconds left',
    ],
    [
      { stage: 'encoding', rows: 1_000, totalRows: 1_000_000, rowsPerSecond: 1_000, secondsLeft: 999 },
      'encoding members: 1,000 of 1,000,000 rows (0%), 1,000 rows/s, about 17 minutes left',
    ],
    [{ stage: 'encoding', rows: 1_200, totalRows: 1_000 }, 'encoding members: 1,200 of 1,000 rows (100%)'],
    [{ stage: 'comparing', updatedAt: '2026-12-01T03:00:00.600Z' }, 'comparing with the last cycle'],
    [{ stage: 'writing', updatedAt: '2026-12-01T03:00:12.300Z' }, 'writing state (12 seconds so far)'],
    [
      { activity: 'uploadCycle', stage: 'uploading', rows: 50_000, totalRows: 110_000, batches: 5, totalBatches: 11, rowsPerSecond: 12_000, secondsLeft: 5 },
      'uploading batch 6 of 11: 50,000 of 110,000 rows (45%), 12,000 rows/s, about 5 seconds left',
    ],
    [
      { activity: 'uploadCycle', stage: 'uploading', rows: 110_000, totalRows: 110_000, batches: 11, totalBatches: 11, rowsPerSecond: 12_000, secondsLeft: 0 },
      'uploading batch 11 of 11: 110,000 of 110,000 rows (100%), 12,000 rows/s',
    ],
    [
      { activity: 'uploadCycle', stage: 'replacing', rows: 0, totalRows: 25_000, batches: 0, totalBatches: 3 },
      'replacing the audience at Meta, batch 1 of 3: 0 of 25,000 rows (0%)',
    ],
    [
      { activity: 'uploadCycle', stage: 'uploading', rows: 20_000, totalRows: 30_000, batches: 2, totalBatches: 3, rowsPerSecond: 9_000, secondsLeft: 2, attempt: 3, retry },
      'uploading batch 3 of 3: 20,000 of 30,000 rows (66%); attempt 3 starts at 2026-12-01T03:01:00.000Z; ' +
        'the last one failed: Meta asked for a pause in calls to ad account act_1; waiting 60 s.',
    ],
    [
      { started: false, stage: null, cycleId: null, attempt: 2, retry: { at: null, lastFailure: null } },
      'waiting for a worker to start the cycle; attempt 2 starts',
    ],
    [{ rows: 5_000, attempt: 2 }, 'reading the source: 5,000 rows (attempt 2)'],
  ])('%j', (overrides, expected) => {
    expect(describeProgress(report(overrides))).toBe(expected);
  });
});
