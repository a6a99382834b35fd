import type { ClientBase } from 'pg';
import { SCHEMA, type Queryable } from './pool';

export type Operation = 'add' | 'remove';

/**
 * A cycle's working tables. They are per cycle (dropped, not deleted from, when the cycle ends) and UNLOGGED:
 * both hold only what can be recomputed from the source and the synced rows, so they need no WAL.
 */
export interface CycleTables {
  /** Every row this cycle's source produced: (row_hash, member_id, row_data). */
  staging: string;
  /** The delta against the synced rows, numbered into upload batches: (operation, batch_no, row_hash, row_data). */
  changes: string;
}

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;

export function cycleTables(cycleId: string): CycleTables {
  // The id becomes part of an identifier, so it must be exactly a UUID and nothing an attacker could shape.
  if (!UUID.test(cycleId)) throw new Error(`not a cycle id: ${cycleId}`);
  const stem = `${SCHEMA}.cycle_${cycleId.replace(/-/g, '')}`;
  return { staging: `${stem}_staging`, changes: `${stem}_changes` };
}

export async function createStagingTable(client: ClientBase, tables: CycleTables): Promise<void> {
  await dropCycleTables(client, tables);
  await client.query(
    `CREATE UNLOGGED TABLE ${tables.staging} (row_hash bytea NOT NULL, member_id text NOT NULL, row_data text NOT NULL)`,
  );
}

export function copyIntoStagingSql(tables: CycleTables): string {
  return `COPY ${tables.staging} (row_hash, member_id, row_data) FROM STDIN`;
}

export async function dropCycleTables(client: ClientBase, tables: CycleTables): Promise<void> {
  await client.query(`DROP TABLE IF EXISTS ${tables.staging}, ${tables.changes}`);
}

export interface Delta {
  /** Distinct members that produced at least one row. */
  members: number;
  /** Distinct rows this cycle's source produced. */
  uploadRows: number;
  adds: number;
  removes: number;
  /** Rows held as synced before this cycle. */
  syncedBefore: number;
  addBatches: number;
  removeBatches: number;
}

/**
 * Computes adds (staged rows not yet synced) and removes (synced rows no longer staged) with anti-joins, and
 * numbers each side into batches of at most `batchSize` rows. Runs entirely inside PostgreSQL: an audience is
 * never loaded into the worker's memory.
 */
export async function computeDelta(
  client: ClientBase,
  audienceKey: string,
  tables: CycleTables,
  batchSize: number,
): Promise<Delta> {
  // Hash joins over a million rows spill to disk with the default 4 MB; this is a bounded, per-transaction raise.
  await client.query(`SET LOCAL work_mem = '256MB'`);
  await client.query(
    `CREATE UNLOGGED TABLE ${tables.changes} (
       operation text NOT NULL, batch_no integer NOT NULL, row_hash bytea NOT NULL, row_data text NOT NULL)`,
  );
  await client.query(
    `INSERT INTO ${tables.changes} (operation, batch_no, row_hash, row_data)
     SELECT 'add', (row_number() OVER () - 1) / $2, row_hash, row_data
       FROM (SELECT DISTINCT ON (s.row_hash) s.row_hash, s.row_data
               FROM ${tables.staging} s
              WHERE NOT EXISTS (SELECT 1 FROM ${SCHEMA}.synced_rows r
                                 WHERE r.audience_key = $1 AND r.row_hash = s.row_hash)) AS adds
     UNION ALL
     SELECT 'remove', (row_number() OVER () - 1) / $2, row_hash, row_data
       FROM ${SCHEMA}.synced_rows r
      WHERE r.audience_key = $1
        AND NOT EXISTS (SELECT 1 FROM ${tables.staging} s WHERE s.row_hash = r.row_hash)`,
    [audienceKey, batchSize],
  );
  await client.query(`CREATE INDEX ON ${tables.changes} (operation, batch_no)`);
  const { rows } = await client.query<{
    members: string;
    upload_rows: string;
    adds: string;
    removes: string;
    synced_before: string;
    add_batches: string;
    remove_batches: string;
  }>(
    `SELECT (SELECT count(*) FROM (SELECT member_id FROM ${tables.staging} GROUP BY member_id) m) AS members,
            (SELECT count(*) FROM (SELECT row_hash FROM ${tables.staging} GROUP BY row_hash) h) AS upload_rows,
            count(*) FILTER (WHERE operation = 'add') AS adds,
            count(*) FILTER (WHERE operation = 'remove') AS removes,
            (SELECT count(*) FROM ${SCHEMA}.synced_rows WHERE audience_key = $1) AS synced_before,
            coalesce(max(batch_no) FILTER (WHERE operation = 'add') + 1, 0) AS add_batches,
            coalesce(max(batch_no) FILTER (WHERE operation = 'remove') + 1, 0) AS remove_batches
       FROM ${tables.changes}`,
    [audienceKey],
  );
  const r = rows[0];
  return {
    members: Number(r.members),
    uploadRows: Number(r.upload_rows),
    adds: Number(r.adds),
    removes: Number(r.removes),
    syncedBefore: Number(r.synced_before),
    addBatches: Number(r.add_batches),
    removeBatches: Number(r.remove_batches),
  };
}

export async function readBatchRows(
  client: Queryable,
  tables: CycleTables,
  operation: Operation,
  batchNo: number,
): Promise<string[]> {
  const { rows } = await client.query<{ row_data: string }>(
    `SELECT row_data FROM ${tables.changes} WHERE operation = $1 AND batch_no = $2`,
    [operation, batchNo],
  );
  return rows.map((row) => row.row_data);
}

/** Applies an acknowledged batch to the synced rows; the caller commits it together with the batch record. */
export async function applyBatchToSyncedRows(
  client: ClientBase,
  audienceKey: string,
  tables: CycleTables,
  operation: Operation,
  batchNo: number,
): Promise<void> {
  if (operation === 'add') {
    await client.query(
      `INSERT INTO ${SCHEMA}.synced_rows (audience_key, row_hash, row_data)
       SELECT $1, row_hash, row_data FROM ${tables.changes} WHERE operation = 'add' AND batch_no = $2
       ON CONFLICT DO NOTHING`,
      [audienceKey, batchNo],
    );
  } else {
    await client.query(
      `DELETE FROM ${SCHEMA}.synced_rows r USING ${tables.changes} c
        WHERE c.operation = 'remove' AND c.batch_no = $2 AND r.audience_key = $1 AND r.row_hash = c.row_hash`,
      [audienceKey, batchNo],
    );
  }
}
