import { randomUUID } from 'node:crypto';
import { pipeline } from 'node:stream/promises';
import { Readable } from 'node:stream';
import { from as copyFrom } from 'pg-copy-streams';
import type { Pool, PoolClient } from 'pg';
import { createPool, inTransaction, SCHEMA, withClient } from '../../src/db/pool';
import { migrate } from '../../src/db/migrations';
import { forgetAudience } from '../../src/db/audiences';
import { AUDIENCE_NO } from '../support/audience-number';
import {
  beginCopyIntoFingerprints,
  copyIntoStaging,
  createCycleTables,
  createStaging,
  cycleTables,
  dropCycleTables,
  type CycleTables,
} from '../../src/db/cycle-tables';
import {
  applyMemberChanges,
  audienceMembership,
  changedMemberIds,
  findChangedMembers,
  loadFirstMembers,
  movedMembership,
  recordBasis,
} from '../../src/db/member-changes';
import { FINGERPRINT_COLUMN } from '../../src/db/source-query';
import { COPY_BINARY_HEADER, COPY_BINARY_TRAILER } from '../../src/db/binary-copy';
import { listUnsentLoad } from '../../src/db/unsent-load';
import { assertClaimed, claimForAttempt, type AttemptClaim } from '../../src/db/preparation-attempt';
import { encodeMemberChunk } from '../../src/activities/member-chunk-encoding';
import { decodeRow, encodeRow, rowsJson } from '../../src/matching/row-codec';
import { AUDIENCE_SCHEMA } from '../../src/matching/keys';
import { sha256Hex } from '../../src/matching/sha256';
import { waitUntil } from '../../src/local/polling';

/**
 * The delta SQL on the real database: members are counted per row, so a row shared by several members is removed
 * only when the last of them leaves, a member who leaves while another joins with the same row changes nothing,
 * and a changed email is one removal and one addition.
 */
const pool = createPool(process.env.DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/postgres');
const audienceKey = `member-changes-${randomUUID()}`;
const firstLoadKey = `member-changes-first-${randomUUID()}`;
const duplicateKey = `member-changes-duplicate-${randomUUID()}`;
const reloadKey = `member-changes-reload-${randomUUID()}`;
const raceKey = `member-changes-race-${randomUUID()}`;
const failedPendingKey = `member-changes-failed-pending-${randomUUID()}`;
const takeoverKey = `member-changes-takeover-${randomUUID()}`;
const retakenKey = `member-changes-retaken-${randomUUID()}`;
const retriedKey = `member-changes-retried-${randomUUID()}`;
const fullFormKey = `member-changes-full-form-${randomUUID()}`;
const joinKey = `member-changes-join-${randomUUID()}`;
const testKeys = [audienceKey, firstLoadKey, duplicateKey, reloadKey, raceKey, failedPendingKey, fullFormKey, takeoverKey, retakenKey, retriedKey, joinKey];
const BASIS = 'test';
const EMAIL = AUDIENCE_SCHEMA.indexOf('EMAIL');

interface SourceMember {
  user_id: string;
  email: string;
  /** Stands in for the hash of the source row: changes when the member's row does. */
  fingerprint: string;
  gender?: string;
}

const fingerprint = (n: number) => String(n);

beforeAll(async () => {
  await migrate(pool);
  for (const key of testKeys) {
    await pool.query(`INSERT INTO ${SCHEMA}.audiences (audience_key, ad_account_id, name) VALUES ($1, 'act_1', $1)`, [key]);
  }
});

afterAll(async () => {
  for (const key of testKeys) await forgetAudience(pool, key);
  await pool.end();
});

/** Pass 1's COPY of the fingerprints as prepareCycle runs it, in the transaction that lets it freeze them. */
async function copyFingerprints(client: PoolClient, tables: CycleTables, members: SourceMember[]): Promise<void> {
  const text = members.map((m) => `${m.user_id}\t${m.fingerprint}\n`).join('');
  await pipeline(Readable.from([text]), client.query(copyFrom(await beginCopyIntoFingerprints(client, tables))));
  await client.query('COMMIT');
}

/** Pass 2's staging of the members; returns how many were staged. */
async function stage(client: PoolClient, tables: CycleTables, members: SourceMember[]): Promise<number> {
  const records = members.map((m) => ({
    user_id: m.user_id,
    email: m.email,
    gender: m.gender,
    [FINGERPRINT_COLUMN]: m.fingerprint,
  }));
  const chunk = encodeMemberChunk(records, {});
  const data = Buffer.concat([COPY_BINARY_HEADER, chunk.copyData, COPY_BINARY_TRAILER]);
  await pipeline(Readable.from([data]), client.query(copyFrom(copyIntoStaging(tables))));
  return chunk.sourceRows - chunk.withoutUserId;
}

/** What a preparation attempt's claim of the audience does for a first load; returns the attempt. */
async function claimed(key: string): Promise<AttemptClaim> {
  const claim = { audienceKey: key, attempt: randomUUID() };
  await inTransaction(pool, (client) => claimForAttempt(client, claim));
  return claim;
}

/** What the plan's transaction of a first load's attempt does first, then records the load's basis. */
async function planAs(claim: AttemptClaim): Promise<void> {
  await inTransaction(pool, async (client) => {
    await assertClaimed(client, claim, 'UPDATE');
    await recordBasis(client, claim.audienceKey, BASIS);
  });
}

/** One cycle as prepareCycle runs it: pass 1 fingerprints, the comparison, pass 2 for the members it names. */
async function runCycle(source: SourceMember[], firstCycle: boolean, key = audienceKey): Promise<void> {
  const cycleId = randomUUID();
  const tables: CycleTables = cycleTables(cycleId);
  const client = await pool.connect();
  try {
    await createCycleTables(client, tables);
    let toStage = source;
    if (!firstCycle) {
      await copyFingerprints(client, tables, source);
      // In its own transaction, as prepareCycle runs it: its settings are SET LOCAL.
      await client.query('BEGIN');
      await findChangedMembers(client, key, tables);
      await client.query('COMMIT');
      const changed = new Set(await changedMemberIds(client, tables));
      toStage = source.filter((member) => changed.has(member.user_id));
    }
    await createStaging(client, tables, firstCycle);
    const staged = await stage(client, tables, toStage);
    if (firstCycle) {
      // One member kept per user_id.
      const kept = new Set(toStage.map((member) => member.user_id)).size;
      expect(await loadFirstMembers(pool, await claimed(key), cycleId, tables, staged)).toBe(kept);
      // Each part of the staging is emptied once stored, to hand its pages back while the load writes.
      expect((await client.query(`SELECT 1 FROM ${tables.staging}`)).rowCount).toBe(0);
    } else {
      await client.query('BEGIN');
      // What the cycle's claim does first: a first load's rows, unsent, are listed as pending.
      await listUnsentLoad(client, key);
      // The membership a delta reports is the last count moved by its changed members: always the full count.
      const last = await audienceMembership(client, key);
      const before = await audienceMembership(client, key, tables);
      await applyMemberChanges(client, key, tables, 'changed', BASIS);
      const after = await audienceMembership(client, key, tables);
      expect(movedMembership(last, before, after)).toEqual(await audienceMembership(client, key));
      await client.query('COMMIT');
    }
    await dropCycleTables(client, tables);
  } finally {
    client.release();
  }
}

/** The audience's pending rows as the next cycle sees them, with what a first load left unsent listed. */
async function listed(key: string): Promise<void> {
  await inTransaction(pool, (client) => listUnsentLoad(client, key));
}

/** Each stored row's count of members and what is pending for it, as the next cycle sees them. */
async function storedRows(key: string): Promise<{ wanted: number; pending: string | null }[]> {
  await listed(key);
  const { rows } = await pool.query<{ wanted: number; pending: string | null }>(
    `SELECT a.wanted, p.operation AS pending FROM ${SCHEMA}.audience_rows a
       LEFT JOIN ${SCHEMA}.pending_rows p USING (audience_no, row_hash)
      WHERE a.audience_no = ${AUDIENCE_NO} ORDER BY a.wanted`,
    [key],
  );
  return rows;
}

async function pending(): Promise<{ add: string[]; remove: string[] }> {
  await listed(audienceKey);
  const { rows } = await pool.query<{ operation: 'add' | 'remove'; row_data: Buffer }>(
    `SELECT p.operation, a.row_data FROM ${SCHEMA}.pending_rows p
       JOIN ${SCHEMA}.audience_rows a USING (audience_no, row_hash) WHERE p.audience_no = ${AUDIENCE_NO}`,
    [audienceKey],
  );
  const result = { add: [] as string[], remove: [] as string[] };
  for (const row of rows) result[row.operation].push(decodeRow(row.row_data)[EMAIL]);
  return { add: result.add.sort(), remove: result.remove.sort() };
}

/** What a completed upload does: Meta now holds every wanted row, and rows nobody wants are forgotten. */
async function settle(): Promise<void> {
  await inTransaction(pool, async (client) => {
    await client.query(`DELETE FROM ${SCHEMA}.pending_rows WHERE audience_no = ${AUDIENCE_NO}`, [audienceKey]);
    await client.query(`DELETE FROM ${SCHEMA}.audience_rows WHERE audience_no = ${AUDIENCE_NO} AND wanted = 0`, [audienceKey]);
  });
}

const hashOf = (email: string) => sha256Hex(email);

/**
 * A first load's members staged, and a second connection to get in its way; both are cleaned up after `race`,
 * which should leave the second connection outside any transaction.
 */
async function raceFirstLoad(
  members: SourceMember[],
  race: (tables: CycleTables, staged: number, other: PoolClient) => Promise<void>,
): Promise<void> {
  const tables = cycleTables(randomUUID());
  const other = await pool.connect();
  try {
    await inTransaction(pool, async (client) => {
      await createCycleTables(client, tables);
      await createStaging(client, tables, true);
    });
    const staged = await inTransaction(pool, (client) => stage(client, tables, members));
    await race(tables, staged, other);
  } finally {
    other.release(true);
    await inTransaction(pool, (client) => dropCycleTables(client, tables));
  }
}

/** Members enough that each of a first load's 32 staged ranges holds rows of theirs (about 12 each). */
function takeoverSource(): SourceMember[] {
  return Array.from({ length: 400 }, (_, n) => ({ user_id: `m${n}`, email: `m${n}@example.com`, fingerprint: fingerprint(n) }));
}

/** The audience holds exactly `members` and their rows, each wanted by one and pending addition. */
async function expectLoaded(key: string, members: SourceMember[]): Promise<void> {
  await listed(key);
  const { rows } = await pool.query<{ wanted: number; pending: string | null; row_data: Buffer }>(
    `SELECT a.wanted, p.operation AS pending, a.row_data FROM ${SCHEMA}.audience_rows a
       LEFT JOIN ${SCHEMA}.pending_rows p USING (audience_no, row_hash) WHERE a.audience_no = ${AUDIENCE_NO}`,
    [key],
  );
  expect(rows.map((row) => decodeRow(row.row_data)[EMAIL]).sort()).toEqual(members.map((m) => hashOf(m.email)).sort());
  expect(rows.every((row) => row.wanted === 1 && row.pending === 'add')).toBe(true);
  const stored = await pool.query<{ member_id: string }>(
    `SELECT member_id FROM ${SCHEMA}.audience_members WHERE audience_no = ${AUDIENCE_NO} ORDER BY member_id`,
    [key],
  );
  expect(stored.rows.map((row) => row.member_id)).toEqual(members.map((m) => m.user_id).sort());
}

/**
 * The test's pool, but whose `connection`-th connection (counting from 1) waits until `resume`: a load paused
 * between two of its transactions. `reached` settles when it waits.
 */
function pausingAt(connection: number): { pool: Pool; reached: Promise<void>; resume: () => void } {
  let connections = 0;
  let reach!: () => void;
  let resume!: () => void;
  const reached = new Promise<void>((resolve) => (reach = resolve));
  const resumed = new Promise<void>((resolve) => (resume = resolve));
  const paused = new Proxy(pool, {
    get(target, property) {
      if (property === 'connect') {
        return async () => {
          if (++connections === connection) {
            reach();
            await resumed;
          }
          return target.connect();
        };
      }
      const value: unknown = Reflect.get(target, property);
      return typeof value === 'function' ? value.bind(target) : value;
    },
  });
  return { pool: paused, reached, resume };
}

/** How long a test waits for a session to be waiting on a lock. */
const LOCK_WAIT_MS = 5_000;

/** Whether a statement like `query` waits for a lock. */
async function waitingOn(query: string): Promise<boolean> {
  const { rows } = await pool.query(`SELECT 1 FROM pg_stat_activity WHERE wait_event_type = 'Lock' AND query LIKE $1`, [query]);
  return rows.length > 0;
}

describe('findChangedMembers', () => {
  it('compares the fingerprints with the members in a merge join, which grows in step with the audience where a hash join does not', async () => {
    const members = Array.from({ length: 300 }, (_, n): SourceMember => ({
      user_id: `j${n}`,
      email: `j${n}@example.com`,
      fingerprint: fingerprint(n),
    }));
    await runCycle(members, true, joinKey);
    const tables = cycleTables(randomUUID());
    const plans: string[] = [];
    // Closed afterwards: the session keeps auto_explain loaded.
    await withClient(
      pool,
      async (client) => {
        client.on('notice', (notice) => plans.push(notice.message ?? ''));
        await createCycleTables(client, tables);
        await copyFingerprints(client, tables, members.map((member, n) => (n % 3 ? member : { ...member, fingerprint: '-1' })));
        await client.query('BEGIN');
        // The plan the statement runs with, sent to this session as it runs.
        await client.query(`LOAD 'auto_explain'`);
        await client.query(`SET LOCAL auto_explain.log_min_duration = 0; SET LOCAL auto_explain.log_level = notice`);
        expect(await findChangedMembers(client, joinKey, tables)).toEqual({ changed: 100, left: 0 });
        await client.query('COMMIT');
      },
      { discard: true },
    ).finally(() => inTransaction(pool, (client) => dropCycleTables(client, tables)));
    const comparison = plans.filter((plan) => plan.includes('FULL JOIN'));
    expect(comparison).toHaveLength(1);
    expect(comparison[0]).toContain('Merge Full Join');
  });
});

describe('applyMemberChanges', () => {
  it('counts members per row and turns only zero crossings into adds and removes', async () => {
    const first: SourceMember[] = [
      { user_id: 'a', email: 'a@example.com', fingerprint: fingerprint(1) },
      { user_id: 'b', email: 'shared@example.com', fingerprint: fingerprint(2) },
      { user_id: 'c', email: 'shared@example.com', fingerprint: fingerprint(3) },
      { user_id: 'd', email: 'd@example.com', fingerprint: fingerprint(4) },
    ];
    await runCycle(first, true);
    expect(await pending()).toEqual({
      add: [hashOf('a@example.com'), hashOf('d@example.com'), hashOf('shared@example.com')].sort(),
      remove: [],
    });
    expect((await audienceMembership(pool, audienceKey)).members).toBe(4);
    await settle();

    // a changes email; b leaves but c still wants the shared row; d leaves while e joins with d's email.
    const second: SourceMember[] = [
      { user_id: 'a', email: 'a2@example.com', fingerprint: fingerprint(11) },
      { user_id: 'c', email: 'shared@example.com', fingerprint: fingerprint(3) },
      { user_id: 'e', email: 'd@example.com', fingerprint: fingerprint(5) },
    ];
    await runCycle(second, false);
    expect(await pending()).toEqual({ add: [hashOf('a2@example.com')], remove: [hashOf('a@example.com')] });
    const membership = await audienceMembership(pool, audienceKey);
    expect(membership.members).toBe(3);
    expect(membership.coverage).toEqual({ EMAIL: 3 });
    await settle();

    // The same source again: nothing is pending.
    await runCycle(second, false);
    expect(await pending()).toEqual({ add: [], remove: [] });
    // c leaves too: the shared row is now wanted by nobody.
    await runCycle(second.filter((member) => member.user_id !== 'c'), false);
    expect(await pending()).toEqual({ add: [], remove: [hashOf('shared@example.com')] });
  });

  it('loads a first cycle with one member per user_id and each row counted once per member', async () => {
    const source: SourceMember[] = [
      { user_id: 'a', email: 'shared@example.com', fingerprint: fingerprint(1) },
      { user_id: 'b', email: 'shared@example.com', fingerprint: fingerprint(2) },
      // The source lists b twice.
      { user_id: 'b', email: 'shared@example.com', fingerprint: fingerprint(2) },
      { user_id: 'c', email: 'c@example.com', fingerprint: fingerprint(3) },
    ];
    await runCycle(source, true, firstLoadKey);
    expect(await storedRows(firstLoadKey)).toEqual([{ wanted: 1, pending: 'add' }, { wanted: 2, pending: 'add' }]);
    expect((await audienceMembership(pool, firstLoadKey)).members).toBe(3);

    // b leaves: a still wants the shared row, so only the count moves.
    await runCycle(source.filter((member) => member.user_id !== 'b'), false, firstLoadKey);
    const shared = await pool.query<{ wanted: number }>(
      `SELECT wanted FROM ${SCHEMA}.audience_rows WHERE audience_no = ${AUDIENCE_NO} AND wanted <> 1`,
      [firstLoadKey],
    );
    expect(shared.rows).toEqual([]);
  });

  it('counts a member whose row is stored in its full form, from before rows were stored compact, as wanting it', async () => {
    const a = { user_id: 'a', email: 'full@example.com', gender: 'female', fingerprint: fingerprint(1) };
    const b = { ...a, user_id: 'b', fingerprint: fingerprint(2) };
    await runCycle([a], true, fullFormKey);
    const stored = async () =>
      (
        await pool.query<{ row_data: Buffer; wanted: number }>(
          `SELECT row_data, wanted FROM ${SCHEMA}.audience_rows WHERE audience_no = ${AUDIENCE_NO}`,
          [fullFormKey],
        )
      ).rows;
    const [compact] = await stored();
    const full = encodeRow(decodeRow(compact!.row_data));
    // The gender's digest is a known one: stored in 3 bytes instead of 33.
    expect(full.length - compact!.row_data.length).toBe(30);
    await pool.query(`UPDATE ${SCHEMA}.audience_rows SET row_data = $2 WHERE audience_no = ${AUDIENCE_NO}`, [
      fullFormKey,
      full,
    ]);
    await listed(fullFormKey);
    await pool.query(`DELETE FROM ${SCHEMA}.pending_rows WHERE audience_no = ${AUDIENCE_NO}`, [fullFormKey]);

    // b joins wanting the same row, staged compact: the stored row is counted twice, and kept as it is.
    await runCycle([a, b], false, fullFormKey);
    expect(await storedRows(fullFormKey)).toEqual([{ wanted: 2, pending: null }]);
    expect((await stored())[0]!.row_data.equals(full)).toBe(true);
    // Both forms upload as the same JSON.
    const json = (row: Buffer) => {
      const text = rowsJson([row]);
      const body = Buffer.alloc(text.byteLength);
      text.writeTo(body, 0);
      return body.toString('utf8');
    };
    expect(json(full)).toBe(json(compact!.row_data));

    await runCycle([b], false, fullFormKey);
    expect(await storedRows(fullFormKey)).toEqual([{ wanted: 1, pending: null }]);
    await runCycle([], false, fullFormKey);
    expect(await storedRows(fullFormKey)).toEqual([{ wanted: 0, pending: 'remove' }]);
  });

  it('loads a first cycle whose source lists a user_id twice with different rows, and uploads only the kept one', async () => {
    const source: SourceMember[] = [
      { user_id: 'a', email: 'a@example.com', fingerprint: fingerprint(1) },
      { user_id: 'b', email: 'b-first@example.com', fingerprint: fingerprint(2) },
      // The copy dropped wants a's row too: that row's count is recounted over the members kept.
      { user_id: 'b', email: 'a@example.com', fingerprint: fingerprint(22) },
    ];
    await runCycle(source, true, duplicateKey);
    await listed(duplicateKey);
    const { rows } = await pool.query<{ stored: boolean; wanted: number | null; pending: string | null }>(
      `SELECT r.row_hash IS NOT NULL AS stored, r.wanted, p.operation AS pending
         FROM ${SCHEMA}.pending_rows p FULL JOIN ${SCHEMA}.audience_rows r USING (audience_no, row_hash)
        WHERE audience_no = ${AUDIENCE_NO}`,
      [duplicateKey],
    );
    // Every stored row is pending addition and every pending addition is a stored row, counted over the two members
    // kept, whichever copy of b was kept: a's row and b's first (once each), or a's row wanted by both.
    expect(rows.every((row) => row.stored && row.pending === 'add' && (row.wanted ?? 0) > 0)).toBe(true);
    expect(rows.reduce((sum, row) => sum + (row.wanted ?? 0), 0)).toBe(2);
  });

  it('loads a first cycle again from scratch when an interrupted attempt left part of it, and never once Meta may hold rows', async () => {
    const source: SourceMember[] = [
      { user_id: 'a', email: 'shared@example.com', fingerprint: fingerprint(1) },
      { user_id: 'b', email: 'shared@example.com', fingerprint: fingerprint(2) },
      { user_id: 'c', email: 'c@example.com', fingerprint: fingerprint(3) },
    ];
    // The first attempt's members and rows were committed, but its cycle never recorded the basis.
    await runCycle(source, true, reloadKey);
    await runCycle(source, true, reloadKey);
    const loaded = () => storedRows(reloadKey);
    expect(await loaded()).toEqual([{ wanted: 1, pending: 'add' }, { wanted: 2, pending: 'add' }]);
    expect((await audienceMembership(pool, reloadKey)).members).toBe(3);

    // Loaded and then uploaded: Meta holds the rows. Neither the recorded basis nor, without one, the held rows
    // let a first load replace them.
    const tables = cycleTables(randomUUID());
    await inTransaction(pool, (client) => createCycleTables(client, tables));
    await recordBasis(pool, reloadKey, BASIS);
    expect(await loadFirstMembers(pool, await claimed(reloadKey), randomUUID(), tables, 0)).toBe(false);
    await pool.query(`DELETE FROM ${SCHEMA}.pending_rows WHERE audience_no = ${AUDIENCE_NO}`, [reloadKey]);
    await pool.query(`UPDATE ${SCHEMA}.audiences SET fingerprint_basis = NULL WHERE audience_key = $1`, [reloadKey]);
    expect(await loadFirstMembers(pool, await claimed(reloadKey), randomUUID(), tables, 0)).toBe(false);
    await inTransaction(pool, (client) => dropCycleTables(client, tables));
    expect((await loaded()).map((row) => row.wanted)).toEqual([1, 2]);
  });

  it('does not load a first cycle that another attempt completes while this one waits for the audience', async () => {
    await raceFirstLoad([{ user_id: 'a', email: 'a@example.com', fingerprint: fingerprint(1) }], async (tables, staged, other) => {
      const claim = await claimed(raceKey);
      // The other attempt records its basis and holds the audience's record until it commits: this load's first
      // look, without a lock, still finds the audience unloaded, and its first transaction waits for it.
      await other.query('BEGIN');
      await other.query(`UPDATE ${SCHEMA}.audiences SET fingerprint_basis = $2 WHERE audience_key = $1`, [raceKey, BASIS]);
      const loading = loadFirstMembers(pool, claim, randomUUID(), tables, staged);
      loading.catch(() => undefined);
      await waitUntil(async () => {
        const { rows } = await pool.query<{ waiting: number }>(
          `SELECT count(*)::int AS waiting FROM pg_stat_activity WHERE wait_event_type = 'Lock' AND query LIKE '%FOR SHARE OF a%'`,
        );
        return rows[0]?.waiting === 1;
      }, LOCK_WAIT_MS);
      await other.query('COMMIT');
      await expect(loading).rejects.toThrow('was loaded by another attempt meanwhile');
      expect((await audienceMembership(pool, raceKey)).members).toBe(0);
      const stored = await pool.query(`SELECT 1 FROM ${SCHEMA}.audience_rows WHERE audience_no = ${AUDIENCE_NO}`, [raceKey]);
      expect(stored.rowCount).toBe(0);
    });
  });

  it('stores no row of a first load that failed to clear what an interrupted one left pending', async () => {
    const members: SourceMember[] = [
      { user_id: 'a', email: 'a@example.com', fingerprint: fingerprint(1) },
      { user_id: 'b', email: 'b@example.com', fingerprint: fingerprint(2) },
    ];
    await raceFirstLoad(members, async (tables, staged, other) => {
      const claim = await claimed(failedPendingKey);
      // A pending row that another transaction holds makes the load's clearing wait, to be cancelled.
      await pool.query(`INSERT INTO ${SCHEMA}.pending_rows (audience_no, operation, row_hash) VALUES (${AUDIENCE_NO}, 'add', $2)`, [
        failedPendingKey,
        Buffer.alloc(32, 7),
      ]);
      await other.query('BEGIN');
      await other.query(`SELECT 1 FROM ${SCHEMA}.pending_rows WHERE audience_no = ${AUDIENCE_NO} FOR UPDATE`, [failedPendingKey]);
      const loading = loadFirstMembers(pool, claim, randomUUID(), tables, staged);
      loading.catch(() => undefined);
      let waiting: number | undefined;
      await waitUntil(async () => {
        const { rows } = await pool.query<{ pid: number }>(
          `SELECT pid FROM pg_stat_activity
            WHERE wait_event_type = 'Lock' AND query = 'DELETE FROM ${SCHEMA}.pending_rows WHERE audience_no = $1'`,
        );
        waiting = rows[0]?.pid;
        return waiting !== undefined;
      }, LOCK_WAIT_MS);
      await pool.query('SELECT pg_cancel_backend($1)', [waiting]);
      await expect(loading).rejects.toThrow('canceling statement');
      await other.query('ROLLBACK');
      const stored = await pool.query(`SELECT 1 FROM ${SCHEMA}.audience_rows WHERE audience_no = ${AUDIENCE_NO}`, [failedPendingKey]);
      expect(stored.rowCount).toBe(0);
    });
  });

  it('lets a later cycle take a first load over mid-way: the earlier attempt stops, or cannot plan, and the rows are the later one\'s', async () => {
    const earlier = takeoverSource();
    // The later cycle read the source after a member left and another joined.
    const later = [...earlier.slice(1), { user_id: 'new', email: 'new@example.com', fingerprint: fingerprint(99) }];
    const laterTables = cycleTables(randomUUID());
    try {
      await inTransaction(pool, async (client) => {
        await createCycleTables(client, laterTables);
        await createStaging(client, laterTables, true);
      });
      const laterStaged = await inTransaction(pool, (client) => stage(client, laterTables, later));
      await raceFirstLoad(earlier, async (tables, staged, other) => {
        // The earlier attempt has stored half of its ranges of rows when another transaction holds the next one.
        const held = tables.stagedRows[16];
        await other.query('BEGIN');
        await other.query(`LOCK TABLE ${held} IN ACCESS EXCLUSIVE MODE`);
        const earlierClaim = await claimed(takeoverKey);
        const first = loadFirstMembers(pool, earlierClaim, randomUUID(), tables, staged);
        first.catch(() => undefined);
        await waitUntil(() => waitingOn(`INSERT INTO %${held}%`), LOCK_WAIT_MS);
        // The later cycle's claim waits for the earlier attempt's transaction to end.
        const laterClaim = { audienceKey: takeoverKey, attempt: randomUUID() };
        const second = inTransaction(pool, (client) => claimForAttempt(client, laterClaim)).then(() =>
          loadFirstMembers(pool, laterClaim, randomUUID(), laterTables, laterStaged),
        );
        second.catch(() => undefined);
        await waitUntil(() => waitingOn('UPDATE %load_attempt%'), LOCK_WAIT_MS);
        await other.query('COMMIT');
        expect(await second).toBe(laterStaged);
        const earlierLoaded = await first.catch((error: Error) => {
          expect(error.message).toContain('was claimed by a later attempt meanwhile');
          return false;
        });
        if (earlierLoaded !== false) await expect(planAs(earlierClaim)).rejects.toThrow('was claimed by a later attempt meanwhile');
        await expectLoaded(takeoverKey, later);
        await planAs(laterClaim);
      });
    } finally {
      await inTransaction(pool, (client) => dropCycleTables(client, laterTables));
    }
  });

  it('stops an attempt that outlived its timeout mid-load once its retry has claimed the audience and staged the same cycle\'s tables anew', async () => {
    const earlier = takeoverSource();
    const later = [...earlier.slice(1), { user_id: 'new', email: 'new@example.com', fingerprint: fingerprint(99) }];
    const cycleId = randomUUID();
    const tables = cycleTables(cycleId);
    const stageAnew = async (members: SourceMember[]) => {
      await inTransaction(pool, async (client) => {
        await createCycleTables(client, tables);
        await createStaging(client, tables, true);
      });
      return inTransaction(pool, (client) => stage(client, tables, members));
    };
    try {
      const earlierStaged = await stageAnew(earlier);
      // The earlier attempt pauses before its sixth transaction, having stored two ranges of rows.
      const paused = pausingAt(6);
      const first = loadFirstMembers(paused.pool, await claimed(retakenKey), cycleId, tables, earlierStaged);
      first.catch(() => undefined);
      await paused.reached;
      const stored = await pool.query(`SELECT 1 FROM ${SCHEMA}.audience_rows WHERE audience_no = ${AUDIENCE_NO}`, [retakenKey]);
      expect(stored.rowCount).toBeGreaterThan(0);
      // Its retry claims the audience and stages the same cycle's tables again, from a later read of the source.
      const laterClaim = await claimed(retakenKey);
      const laterStaged = await stageAnew(later);
      paused.resume();
      await expect(first).rejects.toThrow('was claimed by a later attempt meanwhile');
      expect(await loadFirstMembers(pool, laterClaim, cycleId, tables, laterStaged)).toBe(laterStaged);
      await expectLoaded(retakenKey, later);
    } finally {
      await inTransaction(pool, (client) => dropCycleTables(client, tables));
    }
  });

  it('records the basis of a first load only for the attempt that last claimed the audience', async () => {
    // An attempt that outlived its timeout loads, then its retry claims and loads again before the first one plans.
    const attempts: AttemptClaim[] = [];
    for (let attempt = 0; attempt < 2; attempt++) {
      await raceFirstLoad([{ user_id: 'a', email: 'a@example.com', fingerprint: fingerprint(1) }], async (tables, staged) => {
        const claim = await claimed(retriedKey);
        expect(await loadFirstMembers(pool, claim, randomUUID(), tables, staged)).toBe(staged);
        attempts.push(claim);
      });
    }
    await expect(planAs(attempts[0])).rejects.toThrow('was claimed by a later attempt meanwhile');
    await planAs(attempts[1]);
  });
});
