import { MockActivityEnvironment } from '@temporalio/testing';
import { createUploadActivities } from '../../src/activities/cycle-upload';
import { cycleProgressSchema, type CycleProgress } from '../../src/activities/cycle-progress';
import type { ActivityDependencies } from '../../src/activities/dependencies';
import { SCHEMA } from '../../src/db/pool';
import { AD_ACCOUNT, EmulatorTestKit } from '../emulator/emulator-test-kit';
import { DATABASE_URL, PreparationHarness } from '../support/preparation-harness';
import { testReaderUrl } from '../support/source-reader';
import { recordedMetrics } from '../support/recorded-metrics';
import type { AudienceMetrics } from '../../src/metrics/audience-metrics';

/**
 * The progress a cycle's activities report as heartbeat details, which `status` and `sync-now --wait` show: every
 * stage in its order, with its counts, against the real database and the emulator.
 */
const harness = new PreparationHarness();
const kit = new EmulatorTestKit('cycle_progress');
let prepare: ReturnType<PreparationHarness['source']>['prepare'];

const BATCH_SIZE = 10;
const MEMBERS = 35;

beforeAll(async () => {
  await harness.start();
  await kit.start();
  ({ prepare } = harness.source({ url: await testReaderUrl(harness.pool, DATABASE_URL, { tables: [] }), batchSize: BATCH_SIZE }));
});

afterAll(async () => {
  await kit.stop();
  await harness.stop();
});

/** Members 1..MEMBERS; those up to `changedUpTo` with another email. */
const membersSql = (changedUpTo = 0) =>
  `SELECT g::text AS user_id, CASE WHEN g <= ${changedUpTo} THEN 'new' ELSE 'person' END || g || '@example.com' AS email ` +
  `FROM generate_series(1, ${MEMBERS}) AS g`;

/** An activity environment that records the heartbeat details, each checked against the schema the CLI reads. */
function recording(): { environment: MockActivityEnvironment; beats: CycleProgress[] } {
  const environment = new MockActivityEnvironment();
  const beats: CycleProgress[] = [];
  environment.on('heartbeat', (details: unknown) => beats.push(cycleProgressSchema.parse(details)));
  return { environment, beats };
}

const stagesOf = (beats: CycleProgress[]) => beats.map((beat) => beat.stage).filter((stage, i, all) => stage !== all[i - 1]);
const lastOf = (beats: CycleProgress[], stage: CycleProgress['stage']) => beats.filter((beat) => beat.stage === stage).at(-1);

async function connectedAudience(): Promise<{ audienceKey: string; fbAudienceId: string }> {
  const fbAudienceId = await kit.createAudience();
  const audienceKey = await harness.newAudience();
  await harness.pool.query(`UPDATE ${SCHEMA}.audiences SET fb_audience_id = $2, ad_account_id = $3 WHERE audience_key = $1`, [
    audienceKey,
    fbAudienceId,
    AD_ACCOUNT,
  ]);
  return { audienceKey, fbAudienceId };
}

async function upload(audienceKey: string, fbAudienceId: string, cycleId: string): Promise<CycleProgress[]> {
  const metrics: AudienceMetrics = recordedMetrics();
  const deps = { pool: harness.pool, graph: kit.client, batchSize: BATCH_SIZE, uploadConcurrency: 2, metrics } as ActivityDependencies;
  const { environment, beats } = recording();
  await environment.run(createUploadActivities(deps).uploadCycle, { audienceKey, cycleId, fbAudienceId, adAccountId: AD_ACCOUNT });
  return beats;
}

it('reports each stage of the preparation, then each batch of the upload', async () => {
  const { audienceKey, fbAudienceId } = await connectedAudience();
  const cycle = { fbAudienceId, adAccountId: AD_ACCOUNT };

  const first = recording();
  const { plan } = await prepare(membersSql(), audienceKey, cycle, first.environment);
  // A first cycle reads and encodes in one pass, not knowing the source's size before it has read it.
  expect(stagesOf(first.beats)).toEqual(['starting', 'encoding', 'writing']);
  expect(lastOf(first.beats, 'encoding')).toMatchObject({ cycleId: plan.cycleId, rows: MEMBERS });
  expect(lastOf(first.beats, 'encoding')?.totalRows).toBeUndefined();
  expect(lastOf(first.beats, 'writing')?.rows).toBeUndefined();
  for (const beat of first.beats) expect(beat.at).toBeGreaterThanOrEqual(beat.startedAt);

  const uploaded = await upload(audienceKey, fbAudienceId, plan.cycleId);
  expect(stagesOf(uploaded)).toEqual(['uploading']);
  expect(uploaded[0]).toMatchObject({ cycleId: plan.cycleId, rows: 0, resumedRows: 0, totalRows: MEMBERS, batches: 0, totalBatches: 4 });
  expect(uploaded.at(-1)).toMatchObject({ rows: MEMBERS, batches: 4 });
  expect(uploaded.map((beat) => beat.batches)).toEqual([0, 1, 2, 3, 4]);

  const second = recording();
  const delta = await prepare(membersSql(5), audienceKey, cycle, second.environment);
  expect(stagesOf(second.beats)).toEqual(['starting', 'reading', 'comparing', 'encoding', 'writing']);
  // Pass 1 counted every source row; pass 2 knows it encodes the five changed members.
  expect(lastOf(second.beats, 'reading')).toMatchObject({ rows: MEMBERS });
  expect(lastOf(second.beats, 'encoding')).toMatchObject({ cycleId: delta.plan.cycleId, rows: 5, totalRows: 5 });
  expect(stagesOf(await upload(audienceKey, fbAudienceId, delta.plan.cycleId))).toEqual(['uploading']);
});

it("reports a replace's batches", async () => {
  const { audienceKey, fbAudienceId } = await connectedAudience();
  const { plan } = await prepare(membersSql(), audienceKey, { fbAudienceId, adAccountId: AD_ACCOUNT, replace: 'requested' });
  const beats = await upload(audienceKey, fbAudienceId, plan.cycleId);
  expect(stagesOf(beats)).toEqual(['replacing']);
  expect(beats[0]).toMatchObject({ rows: 0, totalRows: MEMBERS, batches: 0, totalBatches: 4 });
  expect(beats.at(-1)).toMatchObject({ rows: MEMBERS, batches: 4 });
});

it("counts pass 1's rows at most a few times a second, and all of them at the end", async () => {
  const { audienceKey, fbAudienceId } = await connectedAudience();
  const cycle = { fbAudienceId, adAccountId: AD_ACCOUNT };
  // Enough rows that pass 1's COPY text arrives in dozens of pieces.
  const members = 50_000;
  const sql = `SELECT g::text AS user_id, 'person' || g || '@example.com' AS email FROM generate_series(1, ${members}) AS g`;
  await prepare(sql, audienceKey, cycle);
  const { environment, beats } = recording();
  // With the clock stopped, only the first piece is due a report: the last count must come from the stream's end.
  const clock = jest.spyOn(performance, 'now').mockReturnValue(performance.now());
  try {
    await prepare(sql, audienceKey, cycle, environment);
  } finally {
    clock.mockRestore();
  }
  // The activity's keep-alive heartbeat (every 5 s, on a slow machine) repeats whatever count was last reported.
  const reading = beats
    .filter((beat) => beat.stage === 'reading')
    .map((beat) => beat.rows)
    .filter((rows, i, all) => rows !== all[i - 1]);
  expect(reading).toEqual([0, expect.any(Number), members]);
});
