import { createHash } from 'node:crypto';
import { MockActivityEnvironment } from '@temporalio/testing';
import type { Pool } from 'pg';
import { createUploadActivities, type UploadResult } from '../../src/activities/cycle-upload';
import type { ActivityDependencies } from '../../src/activities/dependencies';
import type { AudienceMetrics } from '../../src/metrics/audience-metrics';
import type { CallLogEntry } from '../../src/emulator';
import { inTransaction, SCHEMA } from '../../src/db/pool';
import { planReplaceBatches } from '../../src/db/change-plan';
import { AUDIENCE_SCHEMA } from '../../src/matching/keys';
import { jsonText } from '../support/json-text';
import { AD_ACCOUNT, EmulatorTestKit } from '../emulator/emulator-test-kit';
import { DATABASE_URL, PreparationHarness } from '../support/preparation-harness';
import { testReaderUrl } from '../support/source-reader';
import { recordedMetrics } from '../support/recorded-metrics';

/**
 * The replace's sessions against the emulator, with the session budget shortened: a session that runs out of
 * time is started over once, and a second one that does ends early, the rest added with /users. Either way Meta
 * ends with exactly the members' rows.
 */
const harness = new PreparationHarness();
const kit = new EmulatorTestKit('replace_upload');
let prepare: ReturnType<PreparationHarness['source']>['prepare'];

beforeAll(async () => {
  await harness.start();
  await kit.start();
  ({ prepare } = harness.source({ url: await testReaderUrl(harness.pool, DATABASE_URL, { tables: [] }) }));
});

afterAll(async () => {
  await kit.stop();
  await harness.stop();
});

const sha256 = (text: string) => createHash('sha256').update(text).digest('hex');
const emailRow = (email: string) => AUDIENCE_SCHEMA.map((key) => (key === 'EMAIL' ? sha256(email) : ''));
const emailsOf = (count: number) => Array.from({ length: count }, (_, i) => `person${i + 1}@example.com`);

/** A replace of `count` members into an audience that holds a stranger, in batches of 10, with the given budget. */
async function replaceWithBudget(count: number, budgetMs: number) {
  const fbAudienceId = await kit.createAudience();
  await kit.client.addUsers(fbAudienceId, {
    schema: AUDIENCE_SCHEMA,
    rowCount: 1,
    rowsJson: jsonText(JSON.stringify(emailRow('stranger@example.com'))),
  });
  const audienceKey = await harness.newAudience();
  await harness.pool.query(`UPDATE ${SCHEMA}.audiences SET fb_audience_id = $2, ad_account_id = $3 WHERE audience_key = $1`, [
    audienceKey,
    fbAudienceId,
    AD_ACCOUNT,
  ]);
  const { plan } = await prepare(
    `SELECT g::text AS user_id, 'person' || g || '@example.com' AS email FROM generate_series(1, ${count}) AS g`,
    audienceKey,
    { fbAudienceId, adAccountId: AD_ACCOUNT, replace: 'requested' },
  );
  await inTransaction(harness.pool, async (client) => {
    await client.query(`DELETE FROM ${SCHEMA}.cycle_batches WHERE cycle_id = $1`, [plan.cycleId]);
    await planReplaceBatches(client, audienceKey, plan.cycleId, 10);
  });
  const since = (await kit.admin<CallLogEntry[]>('GET', '/_emulator/calls')).at(-1)?.seq ?? 0;
  const metrics = recordedMetrics();
  const activities = createUploadActivities(deps(harness.pool, kit, budgetMs, metrics));
  const result: UploadResult = await new MockActivityEnvironment().run(activities.uploadCycle, {
    audienceKey,
    cycleId: plan.cycleId,
    fbAudienceId,
    adAccountId: AD_ACCOUNT,
  });
  const calls = (await kit.admin<CallLogEntry[]>('GET', `/_emulator/calls?since=${since}`)).filter(
    (call) => call.audienceId === fbAudienceId && call.method === 'POST',
  );
  const held = await kit.rowsOf(fbAudienceId);
  return { result, calls, held, uploaded: rowsUploaded(metrics) };
}

function deps(pool: Pool, emulator: EmulatorTestKit, budgetMs: number, metrics: AudienceMetrics): ActivityDependencies {
  return { pool, graph: emulator.client, batchSize: 10, uploadConcurrency: 1, replaceSessionBudgetMs: budgetMs, metrics } as ActivityDependencies;
}

/** audience_sync_rows_uploaded_total as the upload counted it, by operation. */
function rowsUploaded(metrics: ReturnType<typeof recordedMetrics>): Record<string, number> {
  const totals: Record<string, number> = {};
  for (const { metric, args } of metrics.recorded) {
    if (metric === 'rowsUploaded') totals[args[1] as string] = (totals[args[1] as string] ?? 0) + (args[2] as number);
  }
  return totals;
}

const sorted = (rows: unknown[][]) => rows.map((row) => JSON.stringify(row)).sort();

it('replaces in one session, back to back, when the session has time', async () => {
  const { result, calls, held, uploaded } = await replaceWithBudget(35, 60_000);
  expect(result).toMatchObject({ outcome: 'replaced', replaced: 35, added: 0 });
  expect(uploaded).toEqual({ replace: 35 });
  expect(calls.map((call) => call.path.split('/').at(-1))).toEqual(['usersreplace', 'usersreplace', 'usersreplace', 'usersreplace']);
  expect(sorted(held.rows)).toEqual(sorted(emailsOf(35).map(emailRow)));
});

it('starts over once when a session runs out of time, then ends the next one early and adds the rest', async () => {
  const { result, calls, held, uploaded } = await replaceWithBudget(35, 0);
  // The first session was given up before a batch went; the second sent its first batch as its last.
  expect(result).toMatchObject({ outcome: 'replaced', replaced: 10, added: 25 });
  expect(uploaded).toEqual({ replace: 10, add: 25 });
  expect(calls.map((call) => call.path.split('/').at(-1))).toEqual(['usersreplace', 'users', 'users', 'users']);
  expect(sorted(held.rows)).toEqual(sorted(emailsOf(35).map(emailRow)));
  expect(result.message).toMatch(/with its 35 current rows because an operator asked for it/);
});
