import { createHash, randomUUID } from 'node:crypto';
import type { Socket } from 'node:net';
import type { PoolClient } from 'pg';
import { createPool, inTransaction, SCHEMA } from '../../src/db/pool';
import { migrate } from '../../src/db/migrations';
import { forgetAudience } from '../../src/db/audiences';
import { AUDIENCE_NO } from '../support/audience-number';
import { acknowledgeBatch, planBatches, plannedBatches, readBatchRows, type PlannedBatch } from '../../src/db/change-plan';
import { encodeRow } from '../../src/matching/row-codec';

/**
 * Batch splitting on the real database: pending changes are cut into hash ranges of at most the batch size that
 * cover every pending row exactly once, and acknowledging a batch settles exactly its rows.
 */
const pool = createPool(process.env.DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/postgres');
const audienceKey = `change-plan-${randomUUID()}`;

const rowOf = (n: number) => encodeRow([`member-${n}`, '', '']);
const hashOf = (row: Buffer) => createHash('sha256').update(row).digest();

beforeAll(async () => {
  await migrate(pool);
  await pool.query(`INSERT INTO ${SCHEMA}.audiences (audience_key, ad_account_id, name) VALUES ($1, 'act_1', $1)`, [audienceKey]);
});

afterAll(async () => {
  await forgetAudience(pool, audienceKey);
  await pool.end();
});

async function seed(adds: number, removes: number, held: number): Promise<void> {
  const rows = Array.from({ length: adds + removes + held }, (_, n) => rowOf(n));
  for (const [n, row] of rows.entries()) {
    // Rows to remove are wanted by nobody; rows to add and rows Meta already holds are wanted by one member.
    const wanted = n >= adds && n < adds + removes ? 0 : 1;
    await pool.query(
      `INSERT INTO ${SCHEMA}.audience_rows (audience_no, row_hash, wanted, row_data) VALUES (${AUDIENCE_NO}, $2, $3, $4)`,
      [audienceKey, hashOf(row), wanted, row],
    );
    if (n < adds + removes) {
      await pool.query(`INSERT INTO ${SCHEMA}.pending_rows (audience_no, operation, row_hash) VALUES (${AUDIENCE_NO}, $2, $3)`, [
        audienceKey,
        n < adds ? 'add' : 'remove',
        hashOf(row),
      ]);
    }
  }
}

async function newCycle(): Promise<string> {
  const cycleId = randomUUID();
  await pool.query(`INSERT INTO ${SCHEMA}.sync_cycles (cycle_id, audience_key) VALUES ($1, $2)`, [cycleId, audienceKey]);
  return cycleId;
}

describe('planBatches, readBatchRows and acknowledgeBatch', () => {
  it('covers every pending row once in batches of at most the batch size, and settles them as acknowledged', async () => {
    await seed(25, 7, 4);
    const cycleId = await newCycle();
    const plan = await inTransaction(pool, (client) => planBatches(client, audienceKey, cycleId, 10));
    // Meta holds the 4 kept rows and the 7 to remove.
    expect(plan).toEqual({ adds: 25, removes: 7, syncedBefore: 11 });

    const batches = await plannedBatches(pool, cycleId);
    expect(batches.map((b) => [b.operation, b.rowCount])).toEqual([
      ['add', 10],
      ['add', 10],
      ['add', 5],
      ['remove', 7],
    ]);
    const seen = new Map<string, string>();
    for (const batch of batches) {
      const rows = await readBatchRows(pool, audienceKey, batch);
      expect(rows).toHaveLength(batch.rowCount);
      // Read again into memory it is lent, which starts inside a larger buffer of other bytes.
      const lent = Buffer.alloc(1 << 16, 0xee);
      const intoLent = await readBatchRows(pool, audienceKey, batch, (length) => lent.subarray(8, 8 + length));
      expect(intoLent).toEqual(rows);
      expect(intoLent.every((row) => row.buffer === lent.buffer)).toBe(true);
      for (const row of rows) {
        const text = row.toString('hex');
        expect(seen.has(text)).toBe(false);
        seen.set(text, batch.operation);
      }
    }
    const expected = new Map(
      Array.from({ length: 32 }, (_, n) => [rowOf(n).toString('hex'), n < 25 ? 'add' : 'remove'] as const),
    );
    expect(seen).toEqual(expected);

    for (const batch of batches) {
      await inTransaction(pool, (client) => acknowledgeBatch(client, audienceKey, cycleId, batch, 0));
    }
    const pending = await pool.query(`SELECT count(*)::int AS n FROM ${SCHEMA}.pending_rows WHERE audience_no = ${AUDIENCE_NO}`, [
      audienceKey,
    ]);
    expect(pending.rows[0].n).toBe(0);
    // Removed rows nobody wants are forgotten; added and kept rows stay.
    const held = await pool.query(`SELECT count(*)::int AS n FROM ${SCHEMA}.audience_rows WHERE audience_no = ${AUDIENCE_NO}`, [
      audienceKey,
    ]);
    expect(held.rows[0].n).toBe(29);
    const cycle = await pool.query(`SELECT added, removed FROM ${SCHEMA}.sync_cycles WHERE cycle_id = $1`, [cycleId]);
    expect(cycle.rows[0]).toEqual({ added: 25, removed: 7 });
    expect((await plannedBatches(pool, cycleId)).every((batch) => batch.acknowledged)).toBe(true);
  });
  it.each([
    [1, 10, [1]],
    [10, 10, [10]],
    [11, 10, [10, 1]],
    [21, 10, [10, 10, 1]],
  ])('cuts %i pending rows into batches of %i as %j, each bounded by its first and last hash', async (count, size, counts) => {
    const hashes = Array.from({ length: count }, (_, n) => hashOf(rowOf(1000 + n)));
    await pool.query(
      `INSERT INTO ${SCHEMA}.pending_rows (audience_no, operation, row_hash) SELECT ${AUDIENCE_NO}, 'add', unnest($2::bytea[])`,
      [audienceKey, hashes],
    );
    try {
      const cycleId = await newCycle();
      await inTransaction(pool, (client) => planBatches(client, audienceKey, cycleId, size));
      const batches = await plannedBatches(pool, cycleId);
      expect(batches.map((batch) => batch.rowCount)).toEqual(counts);
      const sorted = hashes.sort(Buffer.compare);
      let first = 0;
      for (const batch of batches) {
        expect([batch.firstHash, batch.lastHash]).toEqual([sorted[first], sorted[first + batch.rowCount - 1]]);
        first += batch.rowCount;
      }
    } finally {
      await pool.query(`DELETE FROM ${SCHEMA}.pending_rows WHERE audience_no = ${AUDIENCE_NO}`, [audienceKey]);
    }
  });
  it('reads a full batch of rows of real size exactly as stored', async () => {
    const rows = Array.from({ length: 10_000 }, (_, n) => Buffer.concat([rowOf(5000 + n), Buffer.alloc(400, n % 251)]));
    const hashes = rows.map(hashOf);
    await pool.query(
      `INSERT INTO ${SCHEMA}.audience_rows (audience_no, row_hash, wanted, row_data)
       SELECT ${AUDIENCE_NO}, hash, 1, data FROM unnest($2::bytea[], $3::bytea[]) AS r(hash, data)`,
      [audienceKey, hashes, rows],
    );
    await pool.query(
      `INSERT INTO ${SCHEMA}.pending_rows (audience_no, operation, row_hash) SELECT ${AUDIENCE_NO}, 'add', unnest($2::bytea[])`,
      [audienceKey, hashes],
    );
    try {
      const cycleId = await newCycle();
      await inTransaction(pool, (client) => planBatches(client, audienceKey, cycleId, 10_000));
      const [batch] = await plannedBatches(pool, cycleId);
      const read = await readBatchRows(pool, audienceKey, batch as PlannedBatch);
      const text = (buffers: Buffer[]) => buffers.map((row) => row.toString('hex')).sort();
      expect(text(read)).toEqual(text(rows));
    } finally {
      await pool.query(`DELETE FROM ${SCHEMA}.pending_rows WHERE audience_no = ${AUDIENCE_NO}`, [audienceKey]);
      await pool.query(`DELETE FROM ${SCHEMA}.audience_rows WHERE audience_no = ${AUDIENCE_NO} AND row_hash = ANY ($2)`, [audienceKey, hashes]);
    }
  });
  it('fails a batch read whose connection is lost, without ending the process, and the next read works', async () => {
    const hashes = [hashOf(rowOf(90_000))];
    await pool.query(
      `INSERT INTO ${SCHEMA}.audience_rows (audience_no, row_hash, wanted, row_data) VALUES (${AUDIENCE_NO}, $2, 1, $3)`,
      [audienceKey, hashes[0], rowOf(90_000)],
    );
    await pool.query(`INSERT INTO ${SCHEMA}.pending_rows (audience_no, operation, row_hash) VALUES (${AUDIENCE_NO}, 'add', $2)`, [
      audienceKey,
      hashes[0],
    ]);
    try {
      const cycleId = await newCycle();
      await inTransaction(pool, (client) => planBatches(client, audienceKey, cycleId, 10));
      const [batch] = await plannedBatches(pool, cycleId);
      pool.once('acquire', (client: PoolClient & { connection: { stream: Socket } }) => {
        setImmediate(() => client.connection.stream.destroy(Object.assign(new Error('read ECONNRESET'), { code: 'ECONNRESET' })));
      });
      await expect(readBatchRows(pool, audienceKey, batch as PlannedBatch)).rejects.toThrow();
      expect(await readBatchRows(pool, audienceKey, batch as PlannedBatch)).toEqual([rowOf(90_000)]);
    } finally {
      await pool.query(`DELETE FROM ${SCHEMA}.pending_rows WHERE audience_no = ${AUDIENCE_NO}`, [audienceKey]);
      await pool.query(`DELETE FROM ${SCHEMA}.audience_rows WHERE audience_no = ${AUDIENCE_NO} AND row_hash = ANY ($2)`, [audienceKey, hashes]);
    }
  });
  it("reads no row, and records the acknowledgement, of an audience whose record was deleted meanwhile", async () => {
    const goneKey = `change-plan-gone-${randomUUID()}`;
    await pool.query(`INSERT INTO ${SCHEMA}.audiences (audience_key, ad_account_id, name) VALUES ($1, 'act_1', $1)`, [goneKey]);
    const row = rowOf(95_000);
    await pool.query(
      `INSERT INTO ${SCHEMA}.audience_rows (audience_no, row_hash, wanted, row_data) VALUES (${AUDIENCE_NO}, $2, 1, $3)`,
      [goneKey, hashOf(row), row],
    );
    await pool.query(`INSERT INTO ${SCHEMA}.pending_rows (audience_no, operation, row_hash) VALUES (${AUDIENCE_NO}, 'add', $2)`, [
      goneKey,
      hashOf(row),
    ]);
    const cycleId = randomUUID();
    await pool.query(`INSERT INTO ${SCHEMA}.sync_cycles (cycle_id, audience_key) VALUES ($1, $2)`, [cycleId, goneKey]);
    try {
      await inTransaction(pool, (client) => planBatches(client, goneKey, cycleId, 10));
      const [batch] = await plannedBatches(pool, cycleId);
      await pool.query(`DELETE FROM ${SCHEMA}.audiences WHERE audience_key = $1`, [goneKey]);
      // One row short of the batch: the upload takes the cycle's state for lost and the cycle is computed again.
      expect(await readBatchRows(pool, goneKey, batch as PlannedBatch)).toEqual([]);
      await inTransaction(pool, (client) => acknowledgeBatch(client, goneKey, cycleId, batch as PlannedBatch, 0));
      expect((await plannedBatches(pool, cycleId))[0]).toMatchObject({ acknowledged: true });
    } finally {
      await forgetAudience(pool, goneKey);
    }
  });
});
