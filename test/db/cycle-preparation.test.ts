import { randomUUID } from 'node:crypto';
import { MockActivityEnvironment } from '@temporalio/testing';
import { createPool, inTransaction, SCHEMA } from '../../src/db/pool';
import { createSourcePool } from '../../src/db/source-pool';
import { migrate } from '../../src/db/migrations';
import { cycleTables, dropCycleTables } from '../../src/db/cycle-tables';
import { createPreparationActivities } from '../../src/activities/cycle-preparation';
import { encodeMembers } from '../../src/activities/member-chunk-encoding';
import type { MemberEncoder } from '../../src/activities/member-encoder';
import type { GraphClient } from '../../src/facebook/graph-client';

/** prepareCycle's staging against the real database, with an encoder whose second chunk fails. */
const DATABASE_URL = process.env.DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/postgres';
const pool = createPool(DATABASE_URL);
const sourcePool = createSourcePool(DATABASE_URL, 2);
const audienceKey = `cycle-preparation-${randomUUID()}`;
const cycleId = randomUUID();

beforeAll(() => migrate(pool));

afterAll(async () => {
  await inTransaction(pool, (client) => dropCycleTables(client, cycleTables(cycleId)));
  // What a cycle that wrongly went on would have applied, so a failing run leaves nothing behind either.
  for (const table of ['pending_rows', 'audience_rows', 'audience_members', 'sync_cycles']) {
    await pool.query(`DELETE FROM ${SCHEMA}.${table} WHERE audience_key = $1`, [audienceKey]);
  }
  await Promise.all([pool.end(), sourcePool.end()]);
});

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
  const activities = createPreparationActivities({
    pool,
    sourcePool,
    encoder,
    graph: {} as GraphClient,
    uploadConcurrency: 1,
    sourceStatementTimeout: '1min',
    batchSize: 10_000,
  });
  const prepared = new MockActivityEnvironment().run(activities.prepareCycle, {
    audienceKey,
    cycleId,
    fbAudienceId: '1',
    // Some 1.7 MB of source rows: several chunks of COPY text.
    sourceSql: `SELECT g::text AS user_id, 'person' || g || '@example.com' AS email, repeat('x', 300) AS note
                  FROM generate_series(1, 5000) AS g`,
    minSize: 100,
    allowMassRemoval: false,
  });
  await expect(prepared).rejects.toThrow('the hashing thread ended');
  expect(calls).toBeGreaterThanOrEqual(2);
});
