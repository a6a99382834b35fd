import type { ClientBase, Pool } from 'pg';
import { COVERAGE_KEYS, coverageByKey } from '../matching/keys';
import { SHA256_BYTES } from '../matching/sha256';
import { audienceNumber } from './audience-number';
import { inTransaction, SCHEMA, type Queryable } from './pool';
import type { CycleTables } from './cycle-tables';
import { StateInvariantError } from './state-invariant';
import { markUnsentLoad } from './unsent-load';
import { claimedByLaterAttempt, type AttemptClaim } from './preparation-attempt';

/**
 * Which members a cycle rebuilds: `all` (first cycle, or the normalization changed) replaces every member;
 * `changed` rebuilds only those whose source row's fingerprint differs from the last cycle's, and drops the
 * ones that left the source.
 */
export type RebuildScope = 'all' | 'changed';

/**
 * A FROM item of each hash in a member's `row_hashes` as `h`: the column holds a member's row hashes one after the
 * other, where an array would spend a header and a length on each (see migrations).
 */
function eachRowHash(rowHashes: string): string {
  return `LATERAL (SELECT substring(${rowHashes} FROM o + 1 FOR ${SHA256_BYTES}) AS h
                     FROM generate_series(0, length(${rowHashes}) - ${SHA256_BYTES}, ${SHA256_BYTES}) AS o) AS hashes`;
}

/** Whether the audience's members were built with the same normalization as now (and exist at all). */
export async function membersReusable(client: Queryable, audienceKey: string, basis: string): Promise<boolean> {
  const { rows } = await client.query<{ reusable: boolean }>(
    `SELECT a.fingerprint_basis = $2
            AND EXISTS (SELECT 1 FROM ${SCHEMA}.audience_members m WHERE m.audience_no = a.audience_no) AS reusable
       FROM ${SCHEMA}.audiences a WHERE a.audience_key = $1`,
    [audienceKey, basis],
  );
  return rows[0]?.reusable ?? false;
}

export interface MemberChanges {
  /** Members new to the audience or whose source row changed. */
  changed: number;
  /** Members no longer in the source. */
  left: number;
}

/**
 * Compares pass 1's fingerprints with the audience's members; fills `changed` with both kinds of change. In a
 * transaction of its own: the settings it makes for its join hold until that transaction ends.
 */
export async function findChangedMembers(
  client: ClientBase,
  audienceKey: string,
  tables: CycleTables,
): Promise<MemberChanges> {
  // A full outer join of the two sets in member order. The changed ones are kept in that order, the order the
  // members are stored in: the lookups that rebuild them then walk the members' index and table front to back,
  // which matters once the audience's tables outgrow memory (ten million members), where random lookups each wait
  // for the disk.
  const audienceNo = await audienceNumber(client, audienceKey);
  await allowLargeSorts(client);
  await joinInSortOrder(client);
  const { rows } = await client.query<{ changed: string; left: string }>(
    `WITH compared AS (
       SELECT coalesce(f.member_id, m.member_id) AS member_id, f.member_id IS NULL AS left_source
         FROM ${tables.fingerprints} f
         FULL JOIN (SELECT member_id, fingerprint FROM ${SCHEMA}.audience_members WHERE audience_no = $1) m
           ON m.member_id = f.member_id
        WHERE f.member_id IS NULL OR m.member_id IS NULL OR f.fingerprint <> m.fingerprint),
     recorded AS (
       INSERT INTO ${tables.changed} (member_id, in_source)
       SELECT DISTINCT member_id, NOT left_source FROM compared ORDER BY member_id
       RETURNING 1)
     SELECT (SELECT count(DISTINCT member_id) FROM compared WHERE NOT left_source) AS changed,
            (SELECT count(*) FROM compared WHERE left_source) AS left,
            (SELECT count(*) FROM recorded) AS recorded`,
    [audienceNo],
  );
  return { changed: Number(rows[0].changed), left: Number(rows[0].left) };
}

/** The length in bytes of the longest id among the changed members still in the source (0 when there are none). */
export async function longestChangedMemberId(client: ClientBase, tables: CycleTables): Promise<number> {
  const { rows } = await client.query<{ longest: number }>(
    `SELECT coalesce(max(octet_length(member_id)), 0)::int AS longest FROM ${tables.changed} WHERE in_source`,
  );
  return rows[0].longest;
}

/** The changed members that are still in the source: the ones pass 2 reads again. */
export async function changedMemberIds(client: ClientBase, tables: CycleTables): Promise<string[]> {
  const { rows } = await client.query<{ member_id: string }>(
    `SELECT member_id FROM ${tables.changed} WHERE in_source`,
  );
  return rows.map((row) => row.member_id);
}

/**
 * Replaces the rebuilt members with what pass 2 staged and brings the rows and pending changes along, in the
 * caller's transaction. Each row keeps an exact count of the members that want it; only rows whose count goes
 * to or from zero change what Meta must be told:
 *   new row                  → stored, pending add;
 *   0 → wanted (Meta holds it, its removal pending) → removal cancelled;
 *   wanted → 0, add pending (Meta never had it)     → add cancelled, row forgotten;
 *   wanted → 0, Meta holds it                        → pending removal.
 * A member whose row did not change (only another column did) releases and takes it back: no change at all.
 */
export async function applyMemberChanges(
  client: ClientBase,
  audienceKey: string,
  tables: CycleTables,
  scope: RebuildScope,
  basis: string,
): Promise<void> {
  await allowLargeSorts(client);
  await changeMembers(client, audienceKey, tables, scope);
  await recordBasis(client, audienceKey, basis);
}

/** Records the normalization the audience's members were built with; a cycle does so when it commits its plan. */
export async function recordBasis(client: Queryable, audienceKey: string, basis: string): Promise<void> {
  const recorded = await client.query(`UPDATE ${SCHEMA}.audiences SET fingerprint_basis = $2 WHERE audience_key = $1`, [
    audienceKey,
    basis,
  ]);
  if (recorded.rowCount !== 1) {
    throw new StateInvariantError(`audience ${audienceKey} has no record to note its members' basis in`);
  }
}

/**
 * Whether the audience can take a first load over whatever it holds: it has a record, no cycle ever recorded a
 * basis for its members, and Meta holds none of its rows (each stored row is pending addition, as an unsent load's
 * are, or listed; none pending removal). That is what an interrupted first load leaves, since a load's plan is
 * committed, let alone uploaded, only with its basis. FOR SHARE in each load's transaction: the basis cannot be
 * recorded while a load writes, and a load that starts after it was (an attempt of the cycle that outlived its
 * timeout) stops.
 */
const FIRST_LOAD_POSSIBLE = `
  SELECT a.fingerprint_basis IS NULL
         AND NOT EXISTS (SELECT 1 FROM ${SCHEMA}.pending_rows p WHERE p.audience_no = a.audience_no AND p.operation = 'remove')
         AND (a.unsent_load IS NOT NULL OR NOT EXISTS (
           SELECT 1 FROM ${SCHEMA}.audience_rows r
            WHERE r.audience_no = a.audience_no
              AND NOT EXISTS (SELECT 1 FROM ${SCHEMA}.pending_rows p
                               WHERE p.audience_no = a.audience_no AND p.operation = 'add' AND p.row_hash = r.row_hash))) AS possible,
         a.audience_no, a.load_attempt
    FROM ${SCHEMA}.audiences a WHERE a.audience_key = $1`;

/**
 * Holds the audience's record for one of an attempt's load transactions, which goes on only while a first load is
 * possible and no later attempt has claimed the audience (see assertClaimed); returns the audience's number.
 */
async function lockForFirstLoad(client: ClientBase, { audienceKey, attempt }: AttemptClaim): Promise<number> {
  const { rows } = await client.query<{ possible: boolean; audience_no: number; load_attempt: string | null }>(
    `${FIRST_LOAD_POSSIBLE} FOR SHARE OF a`,
    [audienceKey],
  );
  if (!rows[0]?.possible) throw new Error(`audience ${audienceKey} was loaded by another attempt meanwhile`);
  if (rows[0].load_attempt !== attempt) throw claimedByLaterAttempt(audienceKey);
  return rows[0].audience_no;
}

/** One of an attempt's load transactions, with room for the sorts of a range or of all the members in memory. */
function inLoadTransaction<T>(
  pool: Pool,
  claim: AttemptClaim,
  work: (client: ClientBase, audienceNo: number) => Promise<T>,
): Promise<T> {
  return inTransaction(pool, async (client) => {
    const audienceNo = await lockForFirstLoad(client, claim);
    await allowLargeSorts(client);
    return work(client, audienceNo);
  });
}

/**
 * An audience's first members: every row is stored with the count of members that want it, and is pending
 * addition as an unsent load's rows are (see unsent-load), without being listed. The members and the rows go in
 * at the same time on two connections, so that both cores share the largest work a sync ever does (a million
 * members and their rows: about 1 GB of table, index and WAL): the members in one transaction, the rows in one per
 * staged range (storeStagedRows). Before them, the audience is marked as loading and what an interrupted load
 * left pending is cleared; each side first removes what such a load, or an earlier attempt's, left of its table (see
 * FIRST_LOAD_POSSIBLE). Each of its transactions stops once a later attempt has claimed the audience (see
 * preparation-attempt). Returns the members stored, or false, changing nothing, for an audience that was loaded
 * before.
 */
export async function loadFirstMembers(
  pool: Pool,
  claim: AttemptClaim,
  cycleId: string,
  tables: CycleTables,
  stagedMembers: number,
): Promise<number | false> {
  const { rows } = await pool.query<{ possible: boolean }>(FIRST_LOAD_POSSIBLE, [claim.audienceKey]);
  if (!rows[0]?.possible) return false;
  await inLoadTransaction(pool, claim, async (client, audienceNo) => {
    await client.query(`DELETE FROM ${SCHEMA}.pending_rows WHERE audience_no = $1`, [audienceNo]);
    await markUnsentLoad(client, claim.audienceKey, cycleId);
  });
  // Both end before a failure is reported, so a retry never meets a transaction of this attempt still writing.
  const [members, stored] = await Promise.allSettled([
    inLoadTransaction(pool, claim, (client, no) => replaceMembers(client, no, tables)),
    storeStagedRows(pool, claim, tables),
  ]);
  if (members.status === 'rejected') throw members.reason;
  if (stored.status === 'rejected') throw stored.reason;
  // A member's rows are distinct, so with one member per user_id a row's staged copies are the members wanting
  // it, counted in the sort that orders the rows anyway. A user_id listed twice had the rows of its dropped copy
  // counted and stored too: then the rows are counted again, over the members kept, and only theirs are kept.
  if (members.value !== stagedMembers) await inLoadTransaction(pool, claim, recountRows);
  return members.value;
}

/**
 * Joins the sets sorted, not hashed, which leaves PostgreSQL a merge join (it joins FULL only by hash or merge). It
 * would rather hash them, but a hash table of ten million members is hundreds of MB probed at random: in a lab (10
 * million members against 10 million fingerprints, this statement, two runs each) the hash join took 9.5–9.9 s, 15
 * times its 0.58–0.69 s at a million, and the merge join, sorting both sides, 5.9–6.0 s against 0.48 s.
 */
async function joinInSortOrder(client: ClientBase): Promise<void> {
  await client.query(`SET LOCAL enable_hashjoin = off`);
}

/** Sorts and hash joins over a million members or rows, in memory rather than in batches spilled to disk. */
async function allowLargeSorts(client: ClientBase): Promise<void> {
  await client.query(`SET LOCAL work_mem = '256MB'`);
}

async function replaceMembers(client: ClientBase, audienceNo: number, tables: CycleTables): Promise<number> {
  await client.query(`DELETE FROM ${SCHEMA}.audience_members WHERE audience_no = $1`, [audienceNo]);
  // Sorted, so the primary key grows at its end. A source listing one user_id twice keeps one of its rows.
  const loaded = await client.query(
    `INSERT INTO ${SCHEMA}.audience_members (audience_no, member_id, fingerprint, keys_mask, row_hashes)
     SELECT DISTINCT ON (member_id) $1, member_id, fingerprint, keys_mask, row_hashes
       FROM ${tables.stagedMembers} ORDER BY member_id`,
    [audienceNo],
  );
  await releaseStaged(client, tables.stagedMembers);
  return loaded.rowCount ?? 0;
}

/**
 * Each staged row once, in hash order, with the number of members that want it: a range at a time, each in a
 * transaction that empties the range as it commits. A row's staged copies are all in one range, and the ranges
 * follow each other in hash order. A row's hash is the SHA-256 of its full form, from which its stored form follows
 * (row-codec), so grouping by both is grouping by the hash, and the data comes out of the group as it is.
 */
async function storeStagedRows(pool: Pool, claim: AttemptClaim, tables: CycleTables): Promise<void> {
  // An earlier attempt's load transactions ended before this attempt's claim, or stop: none writes after this.
  await inLoadTransaction(pool, claim, (client, audienceNo) =>
    client.query(`DELETE FROM ${SCHEMA}.audience_rows WHERE audience_no = $1`, [audienceNo]),
  );
  for (const range of tables.stagedRows) {
    await inLoadTransaction(pool, claim, async (client, audienceNo) => {
      await groupInSortOrder(client);
      await client.query(
        `INSERT INTO ${SCHEMA}.audience_rows (audience_no, row_hash, wanted, row_data)
         SELECT $1, row_hash, count(*)::integer, row_data FROM ${range} GROUP BY row_hash, row_data ORDER BY row_hash`,
        [audienceNo],
      );
      await releaseStaged(client, range);
    });
  }
}

/**
 * Empties a part of the staging the load has stored, as its transaction commits, which hands its pages back to the
 * operating system while the load still writes: the rows' table and index then reuse them instead of taking pages
 * the machine's host must supply again. In a lab (2026-12-07, about 12:00 UTC; 10.9 million rows staged in 32
 * ranges, stored into a table like audience_rows, alternating), storing them cost PostgreSQL 29.5–30.4 s of kernel
 * CPU in one transaction and 14.6–19.6 s dropping each range once stored; in the benchmark at ten million members,
 * some 5 s (docs/ten-million-members.md, twelfth part). The members' transaction empties theirs as it commits.
 */
async function releaseStaged(client: ClientBase, table: string): Promise<void> {
  await client.query(`TRUNCATE ${table}`);
}

/**
 * Groups a range's staged rows in the sort that orders them. PostgreSQL would rather hash them, then sort the groups:
 * in a lab (344,000 rows of 430 B, a range of ten million members, before rows were stored compact) loading a range
 * took 1.46–1.57 s grouped in the sort against 1.59–1.74 s with a window count over the sort (the statement before),
 * and its SELECT alone took half as long again when hashed.
 */
async function groupInSortOrder(client: ClientBase): Promise<void> {
  await client.query(`SET LOCAL enable_hashagg = off`);
}

/**
 * The stored rows counted over the members kept, those no kept member wants forgotten: every kept member's rows
 * were staged, and stored, with the copies dropped.
 */
async function recountRows(client: ClientBase, audienceNo: number): Promise<void> {
  await client.query(
    `WITH kept AS (
       SELECT h AS row_hash, count(*)::integer AS members
         FROM ${SCHEMA}.audience_members m, ${eachRowHash('m.row_hashes')} WHERE m.audience_no = $1 GROUP BY h),
     recounted AS (
       UPDATE ${SCHEMA}.audience_rows r SET wanted = k.members
         FROM kept k WHERE r.audience_no = $1 AND r.row_hash = k.row_hash AND r.wanted <> k.members)
     DELETE FROM ${SCHEMA}.audience_rows r
      WHERE r.audience_no = $1 AND NOT EXISTS (SELECT 1 FROM kept k WHERE k.row_hash = r.row_hash)`,
    [audienceNo],
  );
}

async function changeMembers(
  client: ClientBase,
  audienceKey: string,
  tables: CycleTables,
  scope: RebuildScope,
): Promise<void> {
  const audienceNo = await audienceNumber(client, audienceKey);
  await client.query(`
    CREATE TEMP TABLE member_row_changes (row_hash bytea NOT NULL, members integer NOT NULL) ON COMMIT DROP;
    CREATE TEMP TABLE row_transitions (row_hash bytea NOT NULL, now_wanted boolean NOT NULL) ON COMMIT DROP`);
  const rebuilt =
    scope === 'all'
      ? `DELETE FROM ${SCHEMA}.audience_members m WHERE m.audience_no = $1 RETURNING m.row_hashes`
      : `DELETE FROM ${SCHEMA}.audience_members m USING ${tables.changed} c
          WHERE m.audience_no = $1 AND m.member_id = c.member_id RETURNING m.row_hashes`;
  await client.query(
    `WITH rebuilt AS (${rebuilt})
     INSERT INTO member_row_changes SELECT h, -count(*) FROM rebuilt, ${eachRowHash('rebuilt.row_hashes')} GROUP BY h`,
    [audienceNo],
  );
  // Sorted, so the primary key grows at its end instead of at random pages. A source listing one user_id twice
  // keeps its first row: one member, one set of rows.
  await client.query(
    `WITH added AS (
       INSERT INTO ${SCHEMA}.audience_members (audience_no, member_id, fingerprint, keys_mask, row_hashes)
       SELECT $1, member_id, fingerprint, keys_mask, row_hashes FROM ${tables.stagedMembers} ORDER BY member_id
       ON CONFLICT DO NOTHING
       RETURNING row_hashes)
     INSERT INTO member_row_changes SELECT h, count(*) FROM added, ${eachRowHash('added.row_hashes')} GROUP BY h`,
    [audienceNo],
  );
  // In hash order, the order the rows are stored in (see compared, in findChangedMembers).
  await client.query(`
    CREATE TEMP TABLE net_row_changes ON COMMIT DROP AS
      SELECT row_hash, sum(members)::integer AS members FROM member_row_changes GROUP BY row_hash HAVING sum(members) <> 0
       ORDER BY row_hash`);

  await client.query(
    `WITH counted AS (
       UPDATE ${SCHEMA}.audience_rows a SET wanted = a.wanted + n.members
         FROM net_row_changes n WHERE a.audience_no = $1 AND a.row_hash = n.row_hash
       RETURNING a.row_hash, a.wanted - n.members AS was_wanted, a.wanted AS is_wanted)
     INSERT INTO row_transitions SELECT row_hash, is_wanted > 0 FROM counted WHERE (was_wanted > 0) <> (is_wanted > 0)`,
    [audienceNo],
  );
  await client.query(
    `DELETE FROM ${SCHEMA}.pending_rows p USING row_transitions t
      WHERE t.now_wanted AND p.audience_no = $1 AND p.operation = 'remove' AND p.row_hash = t.row_hash`,
    [audienceNo],
  );
  await client.query(
    `WITH cancelled AS (
       DELETE FROM ${SCHEMA}.pending_rows p USING row_transitions t
        WHERE NOT t.now_wanted AND p.audience_no = $1 AND p.operation = 'add' AND p.row_hash = t.row_hash
       RETURNING p.row_hash),
     forgotten AS (
       DELETE FROM ${SCHEMA}.audience_rows a USING cancelled c WHERE a.audience_no = $1 AND a.row_hash = c.row_hash)
     INSERT INTO ${SCHEMA}.pending_rows (audience_no, operation, row_hash)
     SELECT $1, 'remove', t.row_hash FROM row_transitions t
      WHERE NOT t.now_wanted AND t.row_hash NOT IN (SELECT row_hash FROM cancelled)`,
    [audienceNo],
  );
  // Rows new to the audience. A row already stored was counted above; its insert conflicts and is skipped.
  await client.query(
    `WITH stored AS (
       INSERT INTO ${SCHEMA}.audience_rows (audience_no, row_hash, wanted, row_data)
       SELECT $1, s.row_hash, n.members, s.row_data
         FROM ${tables.staging} s JOIN net_row_changes n ON n.row_hash = s.row_hash
        WHERE s.row_hash IS NOT NULL ORDER BY s.row_hash
       ON CONFLICT DO NOTHING
       RETURNING row_hash)
     INSERT INTO ${SCHEMA}.pending_rows (audience_no, operation, row_hash)
     SELECT $1, 'add', row_hash FROM stored ORDER BY row_hash`,
    [audienceNo],
  );
}

export interface AudienceMembership {
  /** Members with at least one row: what the minimum size is checked against. */
  members: number;
  /** Members with a usable value, by match key. */
  coverage: Record<string, number>;
}

/**
 * The audience's membership, or with `changedIn` that of the members in that cycle's changed table only: counted
 * before and after the cycle rebuilds them, it moves the last count (movedMembership) without counting everyone.
 */
export async function audienceMembership(
  client: Queryable,
  audienceKey: string,
  changedIn?: CycleTables,
): Promise<AudienceMembership> {
  const perKey = COVERAGE_KEYS.map(
    (_, bit) => `count(*) FILTER (WHERE keys_mask & ${1 << bit} <> 0) AS k${bit}`,
  );
  const changedOnly = changedIn ? `AND member_id IN (SELECT member_id FROM ${changedIn.changed})` : '';
  const audienceNo = await audienceNumber(client, audienceKey);
  const { rows } = await client.query<Record<string, string>>(
    `SELECT count(*) FILTER (WHERE length(row_hashes) > 0) AS members, ${perKey.join(', ')}
       FROM ${SCHEMA}.audience_members WHERE audience_no = $1 ${changedOnly}`,
    [audienceNo],
  );
  const coverage = coverageByKey((bit) => Number(rows[0][`k${bit}`]));
  return { members: Number(rows[0].members), coverage };
}

/** `last`, with the changed members as they were (`before`) replaced by what they are now (`after`). */
export function movedMembership(
  last: AudienceMembership,
  before: AudienceMembership,
  after: AudienceMembership,
): AudienceMembership {
  const coverage: Record<string, number> = {};
  for (const key of COVERAGE_KEYS) {
    const count = (last.coverage[key] ?? 0) - (before.coverage[key] ?? 0) + (after.coverage[key] ?? 0);
    if (count > 0) coverage[key] = count;
  }
  return { members: last.members - before.members + after.members, coverage };
}
