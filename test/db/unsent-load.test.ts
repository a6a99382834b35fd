import { AUDIENCE_NO } from '../support/audience-number';
import { SCHEMA, inTransaction } from '../../src/db/pool';
import { acknowledgeBatch, plannedBatches, readBatchRows } from '../../src/db/change-plan';
import { DATABASE_URL, PreparationHarness } from '../support/preparation-harness';
import { testReaderUrl } from '../support/source-reader';

/**
 * A first load lists nothing in pending_rows: its plan cuts the stored rows into add batches, and whatever it did
 * not get acknowledged is listed by the next cycle, whatever stopped it.
 */
const harness = new PreparationHarness();
let prepare: ReturnType<PreparationHarness['source']>['prepare'];

beforeAll(async () => {
  await harness.start();
  ({ prepare } = harness.source({ url: await testReaderUrl(harness.pool, DATABASE_URL, { tables: [] }), batchSize: 40 }));
});

afterAll(() => harness.stop());

const members = (count: number, first = 1) =>
  `SELECT g::text AS user_id, 'person' || g || '@example.com' AS email FROM generate_series(${first}, ${first + count - 1}) AS g`;

async function pendingAdds(audienceKey: string): Promise<number> {
  const { rows } = await harness.pool.query<{ n: string }>(
    `SELECT count(*) AS n FROM ${SCHEMA}.pending_rows WHERE audience_no = ${AUDIENCE_NO} AND operation = 'add'`,
    [audienceKey],
  );
  return Number(rows[0].n);
}

it('plans a first load from its stored rows, writing no pending row, and reads each batch from them', async () => {
  const { audienceKey, plan } = await prepare(members(100));
  expect(plan).toMatchObject({ decision: 'upload', adds: 100, removes: 0 });
  expect(await pendingAdds(audienceKey)).toBe(0);
  const batches = await plannedBatches(harness.pool, plan.cycleId);
  expect(batches.map((batch) => [batch.operation, batch.rowCount, batch.fromLoad])).toEqual([
    ['add', 40, true],
    ['add', 40, true],
    ['add', 20, true],
  ]);
  const rows = await Promise.all(batches.map((batch) => readBatchRows(harness.pool, audienceKey, batch)));
  expect(rows.map((batchRows) => batchRows.length)).toEqual([40, 40, 20]);
  expect(new Set(rows.flat().map((row) => row.toString('hex'))).size).toBe(100);
});

it('lists what an interrupted first upload left unsent, and only that, when the next cycle claims the audience', async () => {
  const { audienceKey, plan } = await prepare(members(100));
  const [sent] = await plannedBatches(harness.pool, plan.cycleId);
  await inTransaction(harness.pool, (client) => acknowledgeBatch(client, audienceKey, plan.cycleId, sent, 0));

  // The same members again: nothing changed in the source, yet the two batches Meta never acknowledged are owed.
  const next = await prepare(members(100), audienceKey, { expectedGeneration: 1 });
  expect(next.plan).toMatchObject({ decision: 'upload', adds: 60, removes: 0, rebuiltMembers: 0 });
  expect(await pendingAdds(audienceKey)).toBe(60);
  const batches = await plannedBatches(harness.pool, next.plan.cycleId);
  expect(batches.every((batch) => !batch.fromLoad)).toBe(true);
  const resent = (await Promise.all(batches.map((batch) => readBatchRows(harness.pool, audienceKey, batch)))).flat();
  const first = new Set((await readBatchRows(harness.pool, audienceKey, { ...sent, fromLoad: true })).map((row) => row.toString('hex')));
  expect(resent.filter((row) => first.has(row.toString('hex')))).toEqual([]);
});

it('lists every row of a first load whose plan never uploaded, and nothing of one Meta acknowledged whole', async () => {
  const small = await prepare(members(100), undefined, { minSize: 1000 });
  expect(small.plan.decision).toBe('below_minimum');
  const next = await prepare(members(100), small.audienceKey, { expectedGeneration: 1 });
  expect(next.plan).toMatchObject({ adds: 100, removes: 0 });

  const whole = await prepare(members(100));
  await harness.pool.query(`UPDATE ${SCHEMA}.cycle_batches SET acknowledged_at = now() WHERE cycle_id = $1`, [whole.plan.cycleId]);
  const after = await prepare(members(101), whole.audienceKey, { expectedGeneration: 1 });
  expect(after.plan).toMatchObject({ adds: 1, removes: 0 });
});

it('plans a retried first load again from all its rows', async () => {
  const { audienceKey, plan } = await prepare(members(100));
  // The same cycle's preparation runs again (its result was lost): its earlier plan is void, its rows still unsent.
  const retried = await prepare(members(100), audienceKey, { cycleId: plan.cycleId, expectedGeneration: 1 });
  expect(retried.plan).toMatchObject({ adds: 100, removes: 0 });
});

it('counts a batch Meta acknowledges twice once: an attempt that outlived its timeout may send a load batch again', async () => {
  const { audienceKey, plan } = await prepare(members(100));
  const [batch] = await plannedBatches(harness.pool, plan.cycleId);
  for (let time = 0; time < 2; time++) {
    await inTransaction(harness.pool, (client) => acknowledgeBatch(client, audienceKey, plan.cycleId, batch, 1));
  }
  const { rows } = await harness.pool.query<{ added: number; invalid_entries: number }>(
    `SELECT added, invalid_entries FROM ${SCHEMA}.sync_cycles WHERE cycle_id = $1`,
    [plan.cycleId],
  );
  expect(rows[0]).toEqual({ added: 40, invalid_entries: 1 });
});
