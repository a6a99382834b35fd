import { AUDIENCE_NO } from '../support/audience-number';
import { audienceNumber } from '../../src/db/audience-number';
import { SCHEMA, inTransaction } from '../../src/db/pool';
import { plannedBatches, planReplaceBatches } from '../../src/db/change-plan';
import { acknowledgeReplaceBatch, giveUpReplace, settleReplace } from '../../src/db/replace-session';
import { listUnsentLoad } from '../../src/db/unsent-load';
import { DATABASE_URL, PreparationHarness } from '../support/preparation-harness';
import { testReaderUrl } from '../support/source-reader';

/**
 * When a cycle replaces instead of adding and removing, and what a replace leaves in our tables: the cycle's plan
 * against the real database, with the workflow's expectations of our tables as the input says.
 */
const harness = new PreparationHarness();
let prepare: ReturnType<PreparationHarness['source']>['prepare'];

beforeAll(async () => {
  await harness.start();
  ({ prepare } = harness.source({ url: await testReaderUrl(harness.pool, DATABASE_URL, { tables: [] }) }));
});

afterAll(() => harness.stop());

const members = (count: number, first = 1) =>
  `SELECT g::text AS user_id, 'person' || g || '@example.com' AS email FROM generate_series(${first}, ${first + count - 1}) AS g`;

async function record(audienceKey: string) {
  const { rows } = await harness.pool.query<{ generation: string; replace_due: string | null; fingerprint_basis: string | null }>(
    `SELECT generation, replace_due, fingerprint_basis FROM ${SCHEMA}.audiences WHERE audience_key = $1`,
    [audienceKey],
  );
  return rows[0];
}

async function count(table: string, audienceKey: string, where = 'true'): Promise<number> {
  const { rows } = await harness.pool.query<{ n: string }>(
    `SELECT count(*) AS n FROM ${SCHEMA}.${table} WHERE audience_no = ${AUDIENCE_NO} AND ${where}`,
    [audienceKey],
  );
  return Number(rows[0].n);
}

/** Meta acknowledged every batch of the cycle's plan. */
const uploaded = (cycleId: string) =>
  harness.pool.query(`UPDATE ${SCHEMA}.cycle_batches SET acknowledged_at = now() WHERE cycle_id = $1`, [cycleId]);

/** The pending rows as the next cycle sees them, with what a first load left unsent listed. */
const listed = (audienceKey: string) => inTransaction(harness.pool, (client) => listUnsentLoad(client, audienceKey));

/** What Meta holds by our tables' account: stored rows not pending addition. */
const held = (audienceKey: string) =>
  count('audience_rows', audienceKey, `NOT EXISTS (SELECT 1 FROM ${SCHEMA}.pending_rows p
     WHERE p.audience_no = audience_rows.audience_no AND p.row_hash = audience_rows.row_hash AND p.operation = 'add')`);

it('numbers each committed plan, and plans an ordinary cycle while the workflow saw no later one', async () => {
  const first = await prepare(members(150));
  expect(first.plan).toMatchObject({ generation: 1, adds: 150, decision: 'upload' });
  expect(first.plan.replace).toBeUndefined();
  const second = await prepare(members(160), first.audienceKey, { expectedGeneration: 1 });
  // The first cycle's additions were never uploaded, so they are still pending beside the ten new members.
  expect(second.plan).toMatchObject({ generation: 2, adds: 160, removes: 0 });
  expect(second.plan.replace).toBeUndefined();
});

it.each([
  ['records_older', { expectedGeneration: 7 }],
  ['records_of_other_audience', { fbAudienceId: '2', expectedGeneration: 1 }],
] as const)('forgets what it knew and replaces when its records are %s', async (reason, overrides) => {
  const first = await prepare(members(150));
  const { audienceKey } = first;
  // Meta holds the first 150 members' rows, as far as our tables know.
  await uploaded(first.plan.cycleId);
  const { plan } = await prepare(members(120, 31), audienceKey, overrides);
  expect(plan).toMatchObject({ replace: reason, decision: 'upload', members: 120, adds: 120, removes: 0 });
  // Rebuilt from nothing: every row pending addition, nothing held, and every wanted row in the replace's batches.
  await listed(audienceKey);
  expect(await count('pending_rows', audienceKey, `operation = 'add'`)).toBe(120);
  expect(await held(audienceKey)).toBe(0);
  const batches = await plannedBatches(harness.pool, plan.cycleId);
  expect(batches.map((batch) => [batch.operation, batch.rowCount])).toEqual([['replace', 120]]);
  // The generation goes on from the workflow's, so the next cycle does not take our tables for lost again.
  expect(plan.generation).toBeGreaterThan(overrides.expectedGeneration);
  expect((await record(audienceKey)).replace_due).toBe(reason);
});

it('recreates a missing record and replaces', async () => {
  const { audienceKey } = await prepare(members(150));
  const lost = await harness.pool.query<{ audience_no: number }>(
    `DELETE FROM ${SCHEMA}.audiences WHERE audience_key = $1 RETURNING audience_no`,
    [audienceKey],
  );
  const { plan } = await prepare(members(150), audienceKey, { expectedGeneration: 1 });
  expect(plan).toMatchObject({ replace: 'records_missing', decision: 'upload', adds: 150 });
  expect(await record(audienceKey)).toMatchObject({ generation: '2', replace_due: 'records_missing' });
  // The lost record took its rows with it; the new record has a number of its own.
  const left = await harness.pool.query(
    `SELECT (SELECT count(*) FROM ${SCHEMA}.audience_members WHERE audience_no = $1)
          + (SELECT count(*) FROM ${SCHEMA}.audience_rows WHERE audience_no = $1)
          + (SELECT count(*) FROM ${SCHEMA}.pending_rows WHERE audience_no = $1) AS rows`,
    [lost.rows[0].audience_no],
  );
  expect(Number(left.rows[0].rows)).toBe(0);
  expect(await audienceNumber(harness.pool, audienceKey)).not.toBe(lost.rows[0].audience_no);
});

it('keeps a replace owed through cycles that cannot upload, and reports the first reason', async () => {
  const { audienceKey } = await prepare(members(150));
  const small = await prepare(members(50), audienceKey, { replace: 'requested', minSize: 100, expectedGeneration: 1 });
  expect(small.plan).toMatchObject({ decision: 'below_minimum', replace: 'requested' });
  expect(small.plan.message).toMatch(/fewer than the minimum of 100.*The next cycle that uploads replaces/);
  // A replace that would leave far fewer members than the last cycle counted asks first.
  const shrunk = await prepare(members(40), audienceKey, { minSize: 1, membersBefore: 150, expectedGeneration: 2 });
  expect(shrunk.plan).toMatchObject({ decision: 'needs_confirmation', replace: 'requested' });
  expect(shrunk.plan.message).toMatch(/This replace would leave 40 of the 150 members.*--allow-mass-removal/);
  const later = await prepare(members(150), audienceKey, { minSize: 100, membersBefore: 150, expectedGeneration: 3 });
  expect(later.plan).toMatchObject({ decision: 'upload', replace: 'requested', adds: 150 });
});

it('replaces when the rows\' schema changes, since Meta takes another schema only in a replace', async () => {
  const { audienceKey } = await prepare(members(150));
  const { plan } = await prepare(members(150), audienceKey, { limitedDataUse: 'all', expectedGeneration: 1 });
  expect(plan).toMatchObject({ replace: 'schema_changed', decision: 'upload', adds: 150 });
  expect(plan.coverage).toMatchObject({ EMAIL: 150, LDU: 150 });
  // The same schema again owes nothing new: the replace is still the one to make.
  const again = await prepare(members(150), audienceKey, { limitedDataUse: 'all', expectedGeneration: 2 });
  expect(again.plan.replace).toBe('schema_changed');
});

it('settles a replace: Meta holds every wanted row, nothing is pending, and unwanted rows are forgotten', async () => {
  const first = await prepare(members(30));
  const { audienceKey } = first;
  await uploaded(first.plan.cycleId);
  // Ten members leave (their removal pending) and five join (their addition pending).
  const { plan } = await prepare(members(25, 11), audienceKey, { replace: 'requested', expectedGeneration: 1 });
  expect(plan).toMatchObject({ replace: 'requested', adds: 25 });
  expect(await count('pending_rows', audienceKey, `operation = 'remove'`)).toBe(10);

  const batches = await inTransaction(harness.pool, async (client) => {
    await client.query(`DELETE FROM ${SCHEMA}.cycle_batches WHERE cycle_id = $1`, [plan.cycleId]);
    await planReplaceBatches(client, audienceKey, plan.cycleId, 10);
    return plannedBatches(client, plan.cycleId);
  });
  expect(batches.map((batch) => batch.rowCount)).toEqual([10, 10, 5]);
  const replaced = await inTransaction(harness.pool, async (client) => {
    for (const batch of batches) await acknowledgeReplaceBatch(client, plan.cycleId, batch, 0);
    return settleReplace(client, audienceKey, plan.cycleId, 10);
  });
  expect(replaced).toBe(25);
  expect(await count('pending_rows', audienceKey)).toBe(0);
  expect(await count('audience_rows', audienceKey)).toBe(25);
  expect(await count('audience_rows', audienceKey, 'wanted = 0')).toBe(0);
  expect((await record(audienceKey)).replace_due).toBeNull();
  expect((await plannedBatches(harness.pool, plan.cycleId)).every((batch) => batch.operation === 'replace')).toBe(true);
});

it('settles a session that ended early: the batches Meta did not receive become add batches', async () => {
  const { audienceKey, plan } = await prepare(members(25), undefined, { replace: 'requested' });
  const batches = await inTransaction(harness.pool, async (client) => {
    await client.query(`DELETE FROM ${SCHEMA}.cycle_batches WHERE cycle_id = $1`, [plan.cycleId]);
    await planReplaceBatches(client, audienceKey, plan.cycleId, 10);
    return plannedBatches(client, plan.cycleId);
  });
  const replaced = await inTransaction(harness.pool, async (client) => {
    await acknowledgeReplaceBatch(client, plan.cycleId, batches[0], 0);
    return settleReplace(client, audienceKey, plan.cycleId, 10);
  });
  expect(replaced).toBe(10);
  expect(await held(audienceKey)).toBe(10);
  expect(await count('pending_rows', audienceKey, `operation = 'add'`)).toBe(15);
  const after = await plannedBatches(harness.pool, plan.cycleId);
  expect(after.map((batch) => [batch.operation, batch.rowCount, batch.acknowledged])).toEqual([
    ['add', 10, false],
    ['add', 5, false],
    ['replace', 10, true],
  ]);
});

it('adds and removes instead when Meta will not replace, and owes no replace after', async () => {
  const first = await prepare(members(30));
  const { audienceKey } = first;
  await uploaded(first.plan.cycleId);
  const { plan } = await prepare(members(25, 11), audienceKey, { replace: 'requested', expectedGeneration: 1 });
  await inTransaction(harness.pool, (client) => giveUpReplace(client, audienceKey, plan.cycleId, 10));
  const after = await plannedBatches(harness.pool, plan.cycleId);
  expect(after.map((batch) => [batch.operation, batch.rowCount])).toEqual([
    ['add', 5],
    ['remove', 10],
  ]);
  expect((await record(audienceKey)).replace_due).toBeNull();
});
