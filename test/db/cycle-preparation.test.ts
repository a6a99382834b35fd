import { randomUUID } from 'node:crypto';
import { MockActivityEnvironment } from '@temporalio/testing';
import { createPool, inTransaction, SCHEMA } from '../../src/db/pool';
import { createSourcePool } from '../../src/db/source-pool';
import { migrate } from '../../src/db/migrations';
import { cycleTables, dropCycleTables } from '../../src/db/cycle-tables';
import { createPreparationActivities } from '../../src/activities/cycle-preparation';
import { encodeMembers } from '../../src/activities/member-chunk-encoding';
import { CALLING_THREAD_ENCODER, type MemberEncoder } from '../../src/activities/member-encoder';
import type { GraphClient } from '../../src/facebook/graph-client';

/** prepareCycle's staging against the real database. */
const DATABASE_URL = process.env.DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/postgres';
const pool = createPool(DATABASE_URL);
const sourcePool = createSourcePool(DATABASE_URL, 2);
const audienceKeys: string[] = [];
const cycleIds: string[] = [];

beforeAll(() => migrate(pool));

afterAll(async () => {
  for (const cycleId of cycleIds) await inTransaction(pool, (client) => dropCycleTables(client, cycleTables(cycleId)));
  // What a cycle that wrongly went on would have applied, so a failing run leaves nothing behind either.
  for (const table of ['pending_rows', 'audience_rows', 'audience_members', 'sync_cycles', 'audiences']) {
    await pool.query(`DELETE FROM ${SCHEMA}.${table} WHERE audience_key = ANY ($1)`, [audienceKeys]);
  }
  await Promise.all([pool.end(), sourcePool.end()]);
});

/** A first cycle of a new audience (it has a record, as a connected one does) whose members the SQL selects. */
function prepareFirstCycle(encoder: MemberEncoder, sourceSql: string) {
  const audienceKey = `cycle-preparation-${randomUUID()}`;
  const cycleId = randomUUID();
  audienceKeys.push(audienceKey);
  cycleIds.push(cycleId);
  const activities = createPreparationActivities({
    pool,
    sourcePool,
    encoder,
    graph: {} as GraphClient,
    uploadConcurrency: 1,
    sourceStatementTimeout: '1min',
    batchSize: 10_000,
  });
  return {
    audienceKey,
    plan: pool
      .query(`INSERT INTO ${SCHEMA}.audiences (audience_key, ad_account_id, name) VALUES ($1, 'act_1', $1)`, [audienceKey])
      .then(() =>
        new MockActivityEnvironment().run(activities.prepareCycle, {
          audienceKey,
          cycleId,
          fbAudienceId: '1',
          sourceSql,
          minSize: 100,
          allowMassRemoval: false,
        }),
      ),
  };
}

it('fails the cycle when a chunk of members could not be encoded, even while the next chunk is being read', async () => {
  let calls = 0;
  // The second chunk fails at once, while the source's third chunk is still being read: nothing waits on it then.
  const encoder: MemberEncoder = {
    parallelism: 2,
    encode: async (chunk, options) => {
      calls++;
      if (calls === 2) throw new Error('the hashing thread ended');
      return encodeMembers(chunk, options);
    },
    close: async () => undefined,
  };
  // Some 1.7 MB of source rows: several chunks of COPY text.
  const { plan } = prepareFirstCycle(
    encoder,
    `SELECT g::text AS user_id, 'person' || g || '@example.com' AS email, repeat('x', 300) AS note
       FROM generate_series(1, 5000) AS g`,
  );
  await expect(plan).rejects.toThrow('the hashing thread ended');
  expect(calls).toBeGreaterThanOrEqual(2);
});

it('stages every member when some source rows are longer than a chunk of COPY text', async () => {
  // Three rows of 1.2 MB (two of them adjacent) among short ones: each spans many pieces of the COPY stream.
  const { audienceKey, plan } = prepareFirstCycle(
    CALLING_THREAD_ENCODER,
    `SELECT g::text AS user_id, 'person' || g || '@example.com' AS email,
            CASE WHEN g IN (10, 1500, 1501) THEN repeat('x', 1200000) ELSE 'short' END AS note
       FROM generate_series(1, 3000) AS g`,
  );
  await expect(plan).resolves.toMatchObject({ members: 3000, sourceRows: 3000, adds: 3000, removes: 0 });
  const { rows } = await pool.query<{ members: string }>(
    `SELECT count(*) AS members FROM ${SCHEMA}.audience_members WHERE audience_key = $1 AND cardinality(row_hashes) = 1`,
    [audienceKey],
  );
  expect(Number(rows[0]?.members)).toBe(3000);
});
