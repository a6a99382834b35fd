import type { ClientBase, Pool } from 'pg';
import { audienceNumber, findAudienceNumber } from './audience-number';
import { readBinaryCopyColumn } from './binary-copy';
import { CopyOutStream } from './copy-out';
import { SCHEMA, withClient, type Queryable } from './pool';
import { StateInvariantError } from './state-invariant';
import { forgetUnsentLoad, pendEveryWantedRow } from './unsent-load';

export type Operation = 'add' | 'remove' | 'replace';

export interface ChangePlan {
  adds: number;
  removes: number;
  /**
   * Rows Meta holds before this cycle's upload: exact up to twice the removals, beyond that a lower bound, and 0
   * when nothing is removed (only removals are weighed against it).
   */
  syncedBefore: number;
}

export interface PlannedBatch {
  operation: Operation;
  batchNo: number;
  /** The batch is the pending rows of its operation with hashes in [firstHash, lastHash]. */
  firstHash: Buffer;
  lastHash: Buffer;
  rowCount: number;
  acknowledged: boolean;
  /** An add batch of the audience's first load while it is unsent (see unsent-load): every stored row in its range. */
  fromLoad: boolean;
}

/**
 * Plans the cycle's upload: every pending change, including those an interrupted cycle left, is cut into batches
 * of at most `batchSize` rows, each a contiguous range of row hashes. Pending rows change only when a batch is
 * acknowledged, so a batch read again after a crash holds exactly the rows it held the first time. A first load
 * (`firstLoad`) lists nothing pending: all its rows are, and are cut into add batches as they are stored.
 */
export async function planBatches(
  client: ClientBase,
  audienceKey: string,
  cycleId: string,
  batchSize: number,
  firstLoad = false,
): Promise<ChangePlan> {
  const audienceNo = await audienceNumber(client, audienceKey);
  await numberIntoBatches(
    client,
    firstLoad
      ? `SELECT 'add'::text AS operation, row_hash FROM ${SCHEMA}.audience_rows WHERE audience_no = $1`
      : `SELECT operation, row_hash FROM ${SCHEMA}.pending_rows WHERE audience_no = $1`,
    audienceNo,
    cycleId,
    batchSize,
  );
  const planned = await client.query<{ adds: string; removes: string }>(
    `SELECT coalesce(sum(row_count) FILTER (WHERE operation = 'add'), 0) AS adds,
            coalesce(sum(row_count) FILTER (WHERE operation = 'remove'), 0) AS removes
       FROM ${SCHEMA}.cycle_batches WHERE cycle_id = $1`,
    [cycleId],
  );
  const adds = Number(planned.rows[0].adds);
  const removes = Number(planned.rows[0].removes);
  // Every stored row is held by Meta or pending addition. Counting a million rows takes most of a second, and
  // only whether removals reach half of the held rows matters, so the count stops past that, and is not taken
  // when nothing is removed (a first cycle, or any that only adds).
  if (removes === 0) return { adds, removes, syncedBefore: 0 };
  const cap = adds + 2 * removes + 1;
  const stored = await client.query<{ rows: string }>(
    `SELECT count(*) AS rows FROM (SELECT 1 FROM ${SCHEMA}.audience_rows WHERE audience_no = $1 LIMIT $2) AS capped`,
    [audienceNo, cap],
  );
  return { adds, removes, syncedBefore: Number(stored.rows[0].rows) - adds };
}

/**
 * Plans a replace: every row a member wants, pending or held, cut into batches in hash order. Wanted rows do not
 * change until the replace has ended, so a batch sent again in a new session holds the same rows. Returns the rows.
 */
export async function planReplaceBatches(
  client: ClientBase,
  audienceKey: string,
  cycleId: string,
  batchSize: number,
): Promise<number> {
  await numberIntoBatches(client, REPLACE_ROWS, await audienceNumber(client, audienceKey), cycleId, batchSize);
  const { rows } = await client.query<{ rows: string }>(
    `SELECT coalesce(sum(row_count), 0) AS rows FROM ${SCHEMA}.cycle_batches WHERE cycle_id = $1 AND operation = 'replace'`,
    [cycleId],
  );
  return Number(rows[0].rows);
}

/** The rows a replace sends, as (operation, row_hash), for the audience numbered $1. */
const REPLACE_ROWS = `SELECT 'replace'::text AS operation, row_hash FROM ${SCHEMA}.audience_rows WHERE audience_no = $1 AND wanted > 0`;

/**
 * Records `rows` (operation, row_hash of the audience numbered $1) as the cycle's batches. The primary key's order
 * numbers the rows: no sort, and each batch is one stretch of the index. Only each batch's first and last rows go on
 * to the grouping, which takes the bounds from them (PostgreSQL has no min/max over bytea) and the row count from
 * their numbers.
 */
async function numberIntoBatches(
  client: ClientBase,
  rows: string,
  audienceNo: number,
  cycleId: string,
  batchSize: number,
): Promise<void> {
  await client.query(
    `INSERT INTO ${SCHEMA}.cycle_batches (cycle_id, operation, batch_no, first_hash, last_hash, row_count)
     SELECT $2, operation, rn / $3, (array_agg(row_hash ORDER BY rn))[1], (array_agg(row_hash ORDER BY rn DESC))[1],
            max(rn) - min(rn) + 1
       FROM (SELECT operation, row_hash, row_number() OVER w - 1 AS rn, lead(row_hash) OVER w IS NULL AS last_row
               FROM (${rows}) AS planned
             WINDOW w AS (PARTITION BY operation ORDER BY row_hash)) AS numbered
      WHERE rn % $3 = 0 OR rn % $3 = $3 - 1 OR last_row
      GROUP BY operation, rn / $3`,
    [audienceNo, cycleId, batchSize],
  );
}

export async function plannedBatches(client: Queryable, cycleId: string): Promise<PlannedBatch[]> {
  const { rows } = await client.query<{
    operation: Operation;
    batch_no: number;
    first_hash: Buffer;
    last_hash: Buffer;
    row_count: number;
    acknowledged: boolean;
    from_load: boolean;
  }>(
    `SELECT operation, batch_no, first_hash, last_hash, row_count, acknowledged_at IS NOT NULL AS acknowledged,
            operation = 'add' AND EXISTS (SELECT 1 FROM ${SCHEMA}.audiences a WHERE a.unsent_load = b.cycle_id) AS from_load
       FROM ${SCHEMA}.cycle_batches b WHERE cycle_id = $1 ORDER BY operation, batch_no`,
    [cycleId],
  );
  return rows.map((row) => ({
    operation: row.operation,
    batchNo: row.batch_no,
    firstHash: row.first_hash,
    lastHash: row.last_hash,
    rowCount: row.row_count,
    acknowledged: row.acknowledged,
    fromLoad: row.from_load,
  }));
}

/**
 * The compact rows of a batch (see src/matching/row-codec.ts), exactly as built, and for removals as uploaded; a
 * replace batch's, and an unsent first load's, are the wanted rows in its range (a load's wanted rows are all pending
 * addition, and none of them is listed).
 * They come as binary COPY, views into one buffer, which `allocate` gives: a query result would carry the batch's
 * megabytes as hex, for PostgreSQL to write and the driver to decode, row by row. COPY takes no parameters, so the
 * values are literals.
 */
export async function readBatchRows(
  pool: Pool,
  audienceKey: string,
  batch: PlannedBatch,
  allocate: (length: number) => Buffer = Buffer.allocUnsafe,
): Promise<Buffer[]> {
  return withClient(pool, async (client) => {
    const literal = (text: string) => client.escapeLiteral(text);
    // A record deleted took its rows with it: the batch comes back short, and the cycle is computed again.
    const audienceNo = await findAudienceNumber(client, audienceKey);
    if (audienceNo === undefined) return [];
    const hash = (bytes: Buffer) => `decode('${bytes.toString('hex')}', 'hex')`;
    const range = `BETWEEN ${hash(batch.firstHash)} AND ${hash(batch.lastHash)}`;
    const rows =
      batch.operation === 'replace' || batch.fromLoad
        ? `SELECT row_data FROM ${SCHEMA}.audience_rows
            WHERE audience_no = ${audienceNo} AND wanted > 0 AND row_hash ${range}`
        : `SELECT a.row_data
             FROM ${SCHEMA}.pending_rows p
             JOIN ${SCHEMA}.audience_rows a ON a.audience_no = p.audience_no AND a.row_hash = p.row_hash
            WHERE p.audience_no = ${audienceNo} AND p.operation = ${literal(batch.operation)}
              AND p.row_hash ${range}`;
    const copy = client.query(new CopyOutStream(`COPY (${rows}) TO STDOUT (FORMAT binary)`));
    const chunks: Buffer[] = [];
    let length = 0;
    for await (const chunk of copy as AsyncIterable<Buffer>) {
      chunks.push(chunk);
      length += chunk.length;
    }
    const data = allocate(length);
    let at = 0;
    for (const chunk of chunks) at += chunk.copy(data, at);
    return readBinaryCopyColumn(data).map((row) => {
      if (row === null) throw new StateInvariantError(`a row of audience ${audienceKey} has no data`);
      return row;
    });
  });
}

/**
 * Applies a batch Meta acknowledged: its rows are no longer pending, and removed rows no member wants are
 * forgotten. Records the acknowledgement in the same transaction (the caller's).
 */
export async function acknowledgeBatch(
  client: ClientBase,
  audienceKey: string,
  cycleId: string,
  batch: PlannedBatch,
  invalidEntries: number,
): Promise<void> {
  // A record deleted took its rows with it: there is nothing to settle, and the acknowledgement is still recorded.
  const audienceNo = await findAudienceNumber(client, audienceKey);
  if (audienceNo !== undefined) {
    await client.query(
      `WITH settled AS (
         DELETE FROM ${SCHEMA}.pending_rows
          WHERE audience_no = $1 AND operation = $2 AND row_hash BETWEEN $3 AND $4
         RETURNING row_hash)
       DELETE FROM ${SCHEMA}.audience_rows a USING settled s
        WHERE $2 = 'remove' AND a.audience_no = $1 AND a.row_hash = s.row_hash AND a.wanted = 0`,
      [audienceNo, batch.operation, batch.firstHash, batch.lastHash],
    );
  }
  const counter = batch.operation === 'add' ? 'added' : 'removed';
  // Counted once: an attempt that outlived its timeout may send a first load's batch again after a retry had it
  // acknowledged (its rows are read from the stored rows, which stay).
  await client.query(
    `WITH acknowledged AS (
       UPDATE ${SCHEMA}.cycle_batches SET acknowledged_at = now(), invalid_entries = $4
        WHERE cycle_id = $1 AND operation = $2 AND batch_no = $3 AND acknowledged_at IS NULL
       RETURNING row_count)
     UPDATE ${SCHEMA}.sync_cycles c SET ${counter} = ${counter} + a.row_count, invalid_entries = c.invalid_entries + $4
       FROM acknowledged a WHERE c.cycle_id = $1`,
    [cycleId, batch.operation, batch.batchNo, invalidEntries],
  );
}

/**
 * The audience's Custom Audience was replaced by a new, empty one: Meta holds nothing any more, so every wanted
 * row is pending addition and rows only the old audience held are forgotten.
 */
export async function forgetSyncedRows(client: ClientBase, audienceKey: string): Promise<void> {
  const audienceNo = await audienceNumber(client, audienceKey);
  await client.query(
    `WITH held_only AS (
       DELETE FROM ${SCHEMA}.pending_rows WHERE audience_no = $1 AND operation = 'remove' RETURNING row_hash)
     DELETE FROM ${SCHEMA}.audience_rows a USING held_only h WHERE a.audience_no = $1 AND a.row_hash = h.row_hash`,
    [audienceNo],
  );
  // Every row left is wanted: the only ones no member wants were those pending removal, forgotten above.
  await pendEveryWantedRow(client, audienceKey);
  await forgetUnsentLoad(client, audienceKey);
}
