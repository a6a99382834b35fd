import { randomBytes } from 'node:crypto';
import type { Pool } from 'pg';
import { createPool, SCHEMA } from '../../src/db/pool';
import { migrate, MIGRATIONS } from '../../src/db/migrations';

/**
 * Migrating a schema that holds audiences: every row keeps its values when the member tables move from naming their
 * audience by its key to naming it by its number, and when a member's row hashes become one byte string. Run in a
 * database of its own, each migration from a schema built up to the version before it.
 */
const DATABASE_URL = process.env.DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/postgres';
const database = `audience_sync_migrations_${randomBytes(4).toString('hex')}`;
const admin = createPool(DATABASE_URL, { max: 1 });
let pool: Pool;

const KEYED_BY_NUMBER = 8;
const HASHES_CONCATENATED = 9;

beforeAll(async () => {
  await admin.query(`CREATE DATABASE ${database}`);
  const url = new URL(DATABASE_URL);
  url.pathname = `/${database}`;
  pool = createPool(url.toString(), { max: 2 });
});

afterAll(async () => {
  try {
    // Unset when the database could not be created.
    if (pool) await pool.end();
  } finally {
    await admin.query(`DROP DATABASE IF EXISTS ${database} WITH (FORCE)`);
    await admin.end();
  }
});

beforeEach(async () => {
  await pool.query(`DROP SCHEMA IF EXISTS ${SCHEMA} CASCADE`);
  await pool.query(`CREATE SCHEMA ${SCHEMA}; CREATE TABLE ${SCHEMA}.schema_migrations (version integer PRIMARY KEY)`);
});

/** Applies the migrations after the schema's version up to `version`, as migrate would up to the latest. */
async function migrateThrough(version: number): Promise<void> {
  const { rows } = await pool.query(`SELECT coalesce(max(version), 0) AS version FROM ${SCHEMA}.schema_migrations`);
  for (let applied = rows[0].version + 1; applied <= version; applied++) {
    await pool.query(MIGRATIONS[applied - 1]);
    await pool.query(`INSERT INTO ${SCHEMA}.schema_migrations (version) VALUES ($1)`, [applied]);
  }
}

const hash = (n: number) => Buffer.alloc(32, n);

/** Each member table's rows, by audience key (through the audience's number once migrated). */
async function stored(keyColumn: 'audience_key' | 'a.audience_key'): Promise<Record<string, unknown[]>> {
  const join = keyColumn === 'audience_key' ? '' : `JOIN ${SCHEMA}.audiences a USING (audience_no)`;
  const read = async (table: string, columns: string, order: string) =>
    (await pool.query(`SELECT ${keyColumn} AS key, ${columns} FROM ${SCHEMA}.${table} t ${join} ORDER BY ${order}`)).rows;
  return {
    members: await read('audience_members', 'member_id, fingerprint, keys_mask, row_hashes', '1, 2'),
    rows: await read('audience_rows', 'row_hash, wanted, row_data', '1, 2'),
    pending: await read('pending_rows', 'operation, row_hash', '1, 2, 3'),
  };
}

describe(`migration ${KEYED_BY_NUMBER}: the member tables name their audience by number`, () => {
  it('carries every row of every recorded audience over to its number, and leaves the rows of none behind', async () => {
    await migrateThrough(KEYED_BY_NUMBER - 1);
    for (const key of ['shoppers', 'lapsed']) {
      await pool.query(`INSERT INTO ${SCHEMA}.audiences (audience_key, ad_account_id, name) VALUES ($1, 'act_1', $1)`, [key]);
    }
    // 'forgotten' has no record: nothing could reach its rows once keyed by number.
    for (const [n, key] of ['shoppers', 'lapsed', 'forgotten'].entries()) {
      await pool.query(
        `INSERT INTO ${SCHEMA}.audience_members (audience_key, member_id, fingerprint, keys_mask, row_hashes)
         VALUES ($1, 'm1', $2, 3, ARRAY[$3::bytea]), ($1, 'm2', -$2, 1, ARRAY[$4::bytea, $3::bytea])`,
        [key, 1000 + n, hash(10 * n), hash(10 * n + 1)],
      );
      await pool.query(
        `INSERT INTO ${SCHEMA}.audience_rows (audience_key, row_hash, wanted, row_data)
         VALUES ($1, $2, 2, 'one'::bytea), ($1, $3, 0, 'two'::bytea)`,
        [key, hash(10 * n), hash(10 * n + 1)],
      );
      await pool.query(
        `INSERT INTO ${SCHEMA}.pending_rows (audience_key, operation, row_hash) VALUES ($1, 'add', $2), ($1, 'remove', $3)`,
        [key, hash(10 * n), hash(10 * n + 1)],
      );
    }
    const before = await stored('audience_key');

    await migrateThrough(KEYED_BY_NUMBER);

    const kept = (rows: unknown[]) => rows.filter((row) => (row as { key: string }).key !== 'forgotten');
    const after = await stored('a.audience_key');
    expect(after).toEqual({ members: kept(before.members), rows: kept(before.rows), pending: kept(before.pending) });
    expect(after.members).toHaveLength(4);
    const columns = await pool.query<{ table_name: string; columns: string[] }>(
      `SELECT table_name, array_agg(column_name::text ORDER BY ordinal_position) AS columns
         FROM information_schema.columns
        WHERE table_schema = $1 AND table_name IN ('audience_members', 'audience_rows', 'pending_rows')
        GROUP BY table_name ORDER BY table_name`,
      [SCHEMA],
    );
    expect(columns.rows).toEqual([
      { table_name: 'audience_members', columns: ['audience_no', 'member_id', 'fingerprint', 'keys_mask', 'row_hashes'] },
      { table_name: 'audience_rows', columns: ['audience_no', 'row_hash', 'wanted', 'row_data'] },
      { table_name: 'pending_rows', columns: ['audience_no', 'operation', 'row_hash'] },
    ]);
    // The names and rules the tables had before: constraints, and member ids compared byte by byte.
    const constraints = await pool.query<{ conname: string }>(
      `SELECT conname FROM pg_constraint WHERE connamespace = $1::regnamespace ORDER BY conname`,
      [SCHEMA],
    );
    expect(constraints.rows.map((row) => row.conname)).toEqual(
      expect.arrayContaining([
        'audience_members_pkey',
        'audience_rows_pkey',
        'audiences_audience_no_key',
        'pending_rows_operation_check',
        'pending_rows_pkey',
      ]),
    );
    const collation = await pool.query(
      `SELECT collation_name FROM information_schema.columns
        WHERE table_schema = $1 AND table_name = 'audience_members' AND column_name = 'member_id'`,
      [SCHEMA],
    );
    expect(collation.rows).toEqual([{ collation_name: 'C' }]);
    // An audience recorded after the migration gets a number of its own.
    await pool.query(`INSERT INTO ${SCHEMA}.audiences (audience_key, ad_account_id, name) VALUES ('new', 'act_1', 'new')`);
    const numbers = await pool.query(`SELECT count(DISTINCT audience_no)::int AS n FROM ${SCHEMA}.audiences`);
    expect(numbers.rows[0].n).toBe(3);
  });
});

describe(`migration ${HASHES_CONCATENATED}: a member's row hashes become one byte string`, () => {
  it('keeps every member, and its hashes in their order, with none for a member that had none', async () => {
    await migrateThrough(HASHES_CONCATENATED - 1);
    const { rows } = await pool.query<{ audience_no: number }>(
      `INSERT INTO ${SCHEMA}.audiences (audience_key, ad_account_id, name) VALUES ('shoppers', 'act_1', 'shoppers')
       RETURNING audience_no`,
    );
    await pool.query(
      `INSERT INTO ${SCHEMA}.audience_members (audience_no, member_id, fingerprint, keys_mask, row_hashes)
       VALUES ($1, 'none', 1, 0, '{}'), ($1, 'one', 2, 1, ARRAY[$2::bytea]), ($1, 'three', 3, 7, ARRAY[$3::bytea, $2, $4])`,
      [rows[0].audience_no, hash(1), hash(2), hash(3)],
    );

    await migrate(pool);

    const members = await pool.query(
      `SELECT member_id, fingerprint, keys_mask, row_hashes FROM ${SCHEMA}.audience_members ORDER BY member_id`,
    );
    expect(members.rows).toEqual([
      { member_id: 'none', fingerprint: '1', keys_mask: 0, row_hashes: Buffer.alloc(0) },
      { member_id: 'one', fingerprint: '2', keys_mask: 1, row_hashes: hash(1) },
      { member_id: 'three', fingerprint: '3', keys_mask: 7, row_hashes: Buffer.concat([hash(2), hash(1), hash(3)]) },
    ]);
  });
});
