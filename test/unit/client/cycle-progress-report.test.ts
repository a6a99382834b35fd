import { encodePendingActivityState, type WorkflowExecutionDescription } from '@temporalio/client';
import { defaultDataConverter, defaultPayloadConverter } from '@temporalio/common';
import { msNumberToTs } from '@temporalio/common/lib/time';
import type { CycleProgress } from '../../../src/activities/cycle-progress';
import { readCycleProgress, stageRate } from '../../../src/client/cycle-progress-report';

const T0 = Date.parse('2026-12-01T03:00:00.000Z');

function progress(overrides: Partial<CycleProgress>): CycleProgress {
  return { cycleId: 'c1', stage: 'encoding', startedAt: T0, at: T0, ...overrides };
}

describe('stageRate', () => {
  it.each<[string, Partial<CycleProgress>, { rowsPerSecond: number | null; secondsLeft: number | null }]>([
    ['a stage under a second old has no rate yet', { rows: 5_000, at: T0 + 900 }, { rowsPerSecond: null, secondsLeft: null }],
    ['a stage that counts no rows has none', { stage: 'writing', at: T0 + 30_000 }, { rowsPerSecond: null, secondsLeft: null }],
    ['rows with a known total give the time left', { rows: 10_000, totalRows: 30_000, at: T0 + 2_000 }, { rowsPerSecond: 5_000, secondsLeft: 4 }],
    ['rows without a total give only the rate', { stage: 'reading', rows: 10_000, at: T0 + 4_000 }, { rowsPerSecond: 2_500, secondsLeft: null }],
    [
      'rows an earlier attempt handled are not part of the rate',
      { stage: 'uploading', rows: 60_000, resumedRows: 50_000, totalRows: 110_000, at: T0 + 2_000 },
      { rowsPerSecond: 5_000, secondsLeft: 10 },
    ],
    [
      'an attempt that has handled nothing yet has no rate',
      { stage: 'uploading', rows: 50_000, resumedRows: 50_000, totalRows: 110_000, at: T0 + 5_000 },
      { rowsPerSecond: null, secondsLeft: null },
    ],
    ['more rows than expected leave no time', { rows: 12_000, totalRows: 10_000, at: T0 + 3_000 }, { rowsPerSecond: 4_000, secondsLeft: 0 }],
    ['time left rounds up to whole seconds', { rows: 3_000, totalRows: 10_000, at: T0 + 1_000 }, { rowsPerSecond: 3_000, secondsLeft: 3 }],
  ])('%s', (_case, overrides, expected) => {
    expect(stageRate(progress(overrides))).toEqual(expected);
  });
});

type RawPendingActivity = NonNullable<WorkflowExecutionDescription['raw']['pendingActivities']>[number];

function describing(...pendingActivities: RawPendingActivity[]): WorkflowExecutionDescription {
  return { raw: { pendingActivities } } as unknown as WorkflowExecutionDescription;
}

function pending(activity: string, details: unknown, overrides: Partial<RawPendingActivity> = {}): RawPendingActivity {
  return {
    activityType: { name: activity },
    state: encodePendingActivityState('STARTED'),
    attempt: 1,
    ...(details === undefined ? {} : { heartbeatDetails: { payloads: [defaultPayloadConverter.toPayload(details)] } }),
    ...overrides,
  };
}

describe('readCycleProgress', () => {
  const read = (description: WorkflowExecutionDescription) => readCycleProgress(description, defaultDataConverter);

  it('is null while the workflow runs none of the cycle activities', async () => {
    expect(await read(describing())).toBeNull();
    expect(await read(describing(pending('ensureCustomAudience', undefined)))).toBeNull();
  });

  it("reads the stage, counts and rate from the activity's heartbeat details", async () => {
    const details = progress({ stage: 'encoding', rows: 40_000, totalRows: 100_000, at: T0 + 4_000 });
    expect(await read(describing(pending('closeCycle', undefined), pending('prepareCycle', details)))).toEqual({
      activity: 'prepareCycle',
      started: true,
      cycleId: 'c1',
      stage: 'encoding',
      stageStartedAt: '2026-12-01T03:00:00.000Z',
      updatedAt: '2026-12-01T03:00:04.000Z',
      rows: 40_000,
      totalRows: 100_000,
      batches: null,
      totalBatches: null,
      rowsPerSecond: 10_000,
      secondsLeft: 6,
      attempt: 1,
      retry: null,
    });
  });

  it('says when an activity waits for its next attempt, and why the last one failed', async () => {
    const details = progress({ stage: 'uploading', rows: 20_000, totalRows: 30_000, batches: 2, totalBatches: 3, at: T0 + 2_000 });
    const report = await read(
      describing(
        pending('uploadCycle', details, {
          state: encodePendingActivityState('SCHEDULED'),
          attempt: 3,
          nextAttemptScheduleTime: msNumberToTs(T0 + 60_000),
          lastFailure: { message: 'Meta asked for a pause in calls to ad account act_1; waiting 60 s.' },
        }),
      ),
    );
    expect(report).toMatchObject({
      activity: 'uploadCycle',
      started: false,
      stage: 'uploading',
      batches: 2,
      totalBatches: 3,
      attempt: 3,
      retry: { at: '2026-12-01T03:01:00.000Z', lastFailure: 'Meta asked for a pause in calls to ad account act_1; waiting 60 s.' },
    });
  });

  it('runs a later attempt without a retry note', async () => {
    const report = await read(describing(pending('uploadCycle', progress({ stage: 'uploading' }), { attempt: 2 })));
    expect(report).toMatchObject({ attempt: 2, retry: null });
  });

  it.each<[string, unknown]>([
    ['no details yet (no worker has started it)', undefined],
    ["an older worker's details", { acknowledgedBatches: 3, plannedBatches: 5 }],
    ['a stage this client does not know', { ...progress({}), stage: 'vacuuming' }],
  ])('leaves the stage unknown for %s', async (_case, details) => {
    const report = await read(describing(pending('uploadCycle', details, { state: encodePendingActivityState('SCHEDULED') })));
    expect(report).toMatchObject({ activity: 'uploadCycle', started: false, cycleId: null, stage: null, rows: null, rowsPerSecond: null, retry: null });
  });
});
