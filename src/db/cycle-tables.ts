import type { ClientBase } from 'pg';
import { SCHEMA, type Queryable } from './pool';

/**
 * A cycle's working tables. They are per cycle (dropped, not deleted from, once its plan has committed, or when
 * it ends without one, or else by a later cycle once it is done with them: see DONE_WITH_TABLES) and UNLOGGED:
 * all of them hold only what can be computed again from the source and the audience's durable state.
 */
export interface CycleTables {
  /** Pass 1: the fingerprint of every source member, (member_id, fingerprint). */
  fingerprints: string;
  /** Members whose rows must be built again (in the source) or dropped (gone from it). */
  changed: string;
  /** Pass 2, as the encoder writes it: a member tuple (member_id, fingerprint, keys_mask, row_hashes) per member
   *  read, and a row tuple (row_hash, row_data) per row it produced. Partitioned: see stagedMembers, stagedRows. */
  staging: string;
  /** The partition of staging that holds the member tuples (those without a row_hash). */
  stagedMembers: string;
  /** The partitions of staging that hold the row tuples, one per range of row_hash, in hash order: all of them when
   *  the cycle rebuilds every member, only the first (every hash) when it rebuilds the changed ones (createStaging). */
  stagedRows: string[];
}

/**
 * A first load sorts its staged rows by hash, range by range: ten million members' rows (some 5 GB) in 32 ranges
 * sort in memory within the load's work_mem, where one sort of them all wrote them to temporary files and read them
 * back, and the members' statement reads only the members' partition instead of every staged row. More ranges would
 * cost the COPY that routes each tuple to its range (64: a fifth more than 32, in a lab).
 */
const STAGED_ROW_RANGES = 32;

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;

export function cycleTables(cycleId: string): CycleTables {
  // The id becomes part of identifiers, so it must be exactly a UUID and nothing anyone could shape.
  if (!UUID.test(cycleId)) throw new Error(`not a cycle id: ${cycleId}`);
  const stem = `${SCHEMA}.cycle_${cycleId.replace(/-/g, '')}`;
  return {
    fingerprints: `${stem}_fingerprints`,
    changed: `${stem}_changed`,
    staging: `${stem}_staging`,
    stagedMembers: `${stem}_staging_members`,
    stagedRows: Array.from({ length: STAGED_ROW_RANGES }, (_, range) => `${stem}_staging_rows_${range}`),
  };
}

/** A bound of `ranges` ranges of row hashes: hashes are uniform, so ranges of their first byte hold as many rows each. */
function rowRangeBound(bound: number, ranges: number): string {
  if (bound === 0) return 'MINVALUE';
  if (bound === ranges) return 'MAXVALUE';
  const firstByte = (bound * 256) / ranges;
  return `'\\x${firstByte.toString(16).padStart(2, '0')}'::bytea`;
}

/** The tables every cycle writes: pass 1's and the comparison's. Pass 2's staging is created once it is known. */
export async function createCycleTables(client: ClientBase, tables: CycleTables): Promise<void> {
  await dropCycleTables(client, tables);
  // Member ids in the audience's members' collation (see migrations): they are sorted and compared with those of
  // that table's primary key, comparing bytes.
  await client.query(`
    CREATE UNLOGGED TABLE ${tables.fingerprints} (member_id text COLLATE "C" NOT NULL, fingerprint bigint NOT NULL);
    CREATE UNLOGGED TABLE ${tables.changed} (member_id text COLLATE "C" NOT NULL, in_source boolean NOT NULL);
  `);
}

/**
 * Pass 2's staging, partitioned by row_hash: the member tuples (without one) in stagedMembers, the row tuples in
 * ranges of it. A cycle that rebuilds every member stages every row, which a first load sorts range by range; a
 * delta stages a few, in one range. Creating and dropping thirty-odd tables took 0.1–0.2 s of cycles that take
 * 0.5–1.3 s at 100,000 members, when every cycle did; a cycle with nothing to change creates none.
 */
export async function createStaging(client: Queryable, tables: CycleTables, everyMember: boolean): Promise<void> {
  const ranges = everyMember ? STAGED_ROW_RANGES : 1;
  const rowRanges = tables.stagedRows
    .slice(0, ranges)
    .map(
      (range, at) =>
        `CREATE UNLOGGED TABLE ${range} PARTITION OF ${tables.staging}
           FOR VALUES FROM (${rowRangeBound(at, ranges)}) TO (${rowRangeBound(at + 1, ranges)});`,
    );
  // In the members' collation, as the other tables. The partitioned table has no storage: only its partitions are
  // declared unlogged.
  await client.query(`
    CREATE TABLE ${tables.staging} (
      member_id text COLLATE "C", fingerprint bigint, keys_mask integer, row_hashes bytea, row_hash bytea, row_data bytea)
      PARTITION BY RANGE (row_hash);
    CREATE UNLOGGED TABLE ${tables.stagedMembers} PARTITION OF ${tables.staging} DEFAULT;
    ${rowRanges.join('\n')}
  `);
}

export async function dropCycleTables(client: Queryable, tables: CycleTables): Promise<void> {
  await client.query(
    `DROP TABLE IF EXISTS ${tables.fingerprints}, ${tables.changed}, ${tables.staging}`,
  );
}

/**
 * A cycle whose working tables no attempt of its preparation needs: it has ended (a retried attempt reopens it), or
 * it started a day ago, four times as long as all of a preparation's attempts may take (see the workflow), and was
 * left running by a crash or a workflow terminated (its upload, if any, reads none of them).
 */
const DONE_WITH_TABLES = `(outcome <> 'running' OR started_at < now() - interval '1 day')`;

/**
 * Cycles, of any audience, done with their working tables (DONE_WITH_TABLES) that are still there: their drop
 * waited too long on an attempt of the cycle that outlived its timeout, or such an attempt created them again.
 */
export async function cyclesLeavingTables(client: Queryable): Promise<string[]> {
  const { rows } = await client.query<{ cycle_id: string }>(
    `SELECT cycle_id FROM ${SCHEMA}.sync_cycles
      WHERE ${DONE_WITH_TABLES}
        AND cycle_id IN (SELECT substring(relname FROM '^cycle_([0-9a-f]{32})_')::uuid FROM pg_catalog.pg_class
                          WHERE relnamespace = '${SCHEMA}'::regnamespace
                            AND relname ~ '^cycle_[0-9a-f]{32}_(fingerprints|changed|staging)$')`,
  );
  return rows.map((row) => row.cycle_id);
}

/**
 * Drops a cycle's working tables if it is still done with them, holding its record meanwhile: a retried attempt
 * that reopens the cycle, and creates them afresh, waits for the drop or the drop does not happen. Whether it did.
 */
export async function dropTablesLeftBy(client: ClientBase, cycleId: string): Promise<boolean> {
  const { rowCount } = await client.query(
    `SELECT FROM ${SCHEMA}.sync_cycles WHERE cycle_id = $1 AND ${DONE_WITH_TABLES} FOR NO KEY UPDATE`,
    [cycleId],
  );
  if (!rowCount) return false;
  await dropCycleTables(client, cycleTables(cycleId));
  return true;
}

/**
 * Pass 1's COPY runs in a transaction that empties the table first, which lets it write its rows frozen: the
 * comparison that reads them next then finds every page all-visible, instead of setting hint bits on each and
 * writing the whole table out once more. Nothing else reads a cycle's tables, so no snapshot can see the rows too
 * early. This opens that transaction and returns the COPY to run in it; the caller commits once it has finished.
 */
export async function beginCopyIntoFingerprints(client: ClientBase, tables: CycleTables): Promise<string> {
  await client.query(`BEGIN; TRUNCATE ${tables.fingerprints}`);
  return `COPY ${tables.fingerprints} (member_id, fingerprint) FROM STDIN (FREEZE)`;
}

/**
 * Binary COPY (see binary-copy): the encoder writes tuples of exactly these columns. Not frozen, as PostgreSQL
 * freezes no COPY into a partitioned table: the load's first reading of each page sets its hint bits, and the pages
 * shared buffers cannot keep until the load empties their range are written once more, at most about the bytes the
 * single sort's temporary files wrote, while the ranges save reading those back.
 */
export function copyIntoStaging(tables: CycleTables): string {
  return `COPY ${tables.staging} (member_id, fingerprint, keys_mask, row_hashes, row_hash, row_data) FROM STDIN (FORMAT binary)`;
}
