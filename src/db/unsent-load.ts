import type { ClientBase } from 'pg';
import { audienceNumber } from './audience-number';
import { SCHEMA } from './pool';

/**
 * A first load does not list its rows in pending_rows: at ten million members, writing a pending row per row and
 * deleting it again when its batch was acknowledged was a fifth of the load's work, and left the table's size
 * behind in dead tuples for the next cycle to wade through. Instead the audience records the load's cycle
 * (audiences.unsent_load): while it does, each stored row outside that cycle's acknowledged add batches is
 * pending addition, as if listed. The load's own upload reads its batches from the stored rows; whatever comes
 * next (another cycle, a replace that ends or is given up) first lists what is still unsent, and every other
 * reader of pending_rows never sees the difference.
 */
export async function markUnsentLoad(client: ClientBase, audienceKey: string, cycleId: string): Promise<void> {
  await client.query(`UPDATE ${SCHEMA}.audiences SET unsent_load = $2 WHERE audience_key = $1`, [audienceKey, cycleId]);
}

/**
 * Lists in pending_rows the rows a first load has not had acknowledged, and clears its mark: the rows of its
 * unacknowledged add batches, or every wanted row when it planned none (it was replacing, or planned nothing yet).
 * Call it before anything plans from or changes pending rows; it holds the audience's row until the caller commits.
 */
export async function listUnsentLoad(client: ClientBase, audienceKey: string): Promise<void> {
  const { rows } = await client.query<{ cycle_id: string | null; planned: boolean }>(
    `SELECT unsent_load AS cycle_id,
            EXISTS (SELECT 1 FROM ${SCHEMA}.cycle_batches b WHERE b.cycle_id = a.unsent_load AND b.operation = 'add') AS planned
       FROM ${SCHEMA}.audiences a WHERE audience_key = $1 FOR UPDATE OF a`,
    [audienceKey],
  );
  const load = rows[0];
  if (!load?.cycle_id) return;
  if (load.planned) await pendRowsOfUnacknowledgedBatches(client, audienceKey, load.cycle_id, 'add');
  else await pendEveryWantedRow(client, audienceKey);
  await forgetUnsentLoad(client, audienceKey);
}

/** Every row a member wants, pending addition: Meta holds none of them. */
export async function pendEveryWantedRow(client: ClientBase, audienceKey: string): Promise<void> {
  await client.query(
    `INSERT INTO ${SCHEMA}.pending_rows (audience_no, operation, row_hash)
     SELECT audience_no, 'add', row_hash FROM ${SCHEMA}.audience_rows WHERE audience_no = $1 AND wanted > 0
      ORDER BY row_hash
     ON CONFLICT DO NOTHING`,
    [await audienceNumber(client, audienceKey)],
  );
}

/** Clears the mark where something else has settled what Meta holds of the load's rows. */
export async function forgetUnsentLoad(client: ClientBase, audienceKey: string): Promise<void> {
  await client.query(`UPDATE ${SCHEMA}.audiences SET unsent_load = NULL WHERE audience_key = $1`, [audienceKey]);
}

/**
 * Every wanted row in the ranges of the cycle's unacknowledged batches of `operation`, pending addition: what
 * Meta did not receive of them. One index range scan per batch, in hash order.
 */
export async function pendRowsOfUnacknowledgedBatches(
  client: ClientBase,
  audienceKey: string,
  cycleId: string,
  operation: 'add' | 'replace',
): Promise<void> {
  await client.query(
    `INSERT INTO ${SCHEMA}.pending_rows (audience_no, operation, row_hash)
     SELECT r.audience_no, 'add', r.row_hash
       FROM ${SCHEMA}.audience_rows r
       JOIN ${SCHEMA}.cycle_batches b
         ON b.cycle_id = $2 AND b.operation = $3 AND b.acknowledged_at IS NULL
        AND r.row_hash BETWEEN b.first_hash AND b.last_hash
      WHERE r.audience_no = $1 AND r.wanted > 0
      ORDER BY r.row_hash
     ON CONFLICT DO NOTHING`,
    [await audienceNumber(client, audienceKey), cycleId, operation],
  );
}
