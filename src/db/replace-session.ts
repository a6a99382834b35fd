import type { ClientBase } from 'pg';
import { audienceNumber } from './audience-number';
import { planBatches, type PlannedBatch } from './change-plan';
import { SCHEMA, type Queryable } from './pool';
import { forgetUnsentLoad, listUnsentLoad, pendRowsOfUnacknowledgedBatches } from './unsent-load';

/**
 * A replace cycle's state at Meta between activity attempts: the usersreplace session in use, and which of the
 * cycle's replace batches that session has received (cycle_batches.acknowledged_at). The rows in our tables stay
 * as they were until the session ends, when they are settled in one transaction with its last batch.
 */
export interface ReplaceSession {
  sessionId: number;
  /** How long ago the session's first batch was sent, by the database's clock. */
  ageMs: number;
  /** Sessions the cycle has started, this one included. */
  sessionsStarted: number;
}

export async function readReplaceSession(client: Queryable, cycleId: string): Promise<ReplaceSession | undefined> {
  const { rows } = await client.query<{ session_id: string; age_ms: number; sessions: number }>(
    `SELECT replace_session_id AS session_id, replace_sessions AS sessions,
            (extract(epoch FROM now() - replace_session_started_at) * 1000)::float8 AS age_ms
       FROM ${SCHEMA}.sync_cycles WHERE cycle_id = $1 AND replace_session_id IS NOT NULL`,
    [cycleId],
  );
  return (
    rows[0] && {
      sessionId: Number(rows[0].session_id),
      ageMs: Number(rows[0].age_ms),
      sessionsStarted: Number(rows[0].sessions),
    }
  );
}

/**
 * Records a new session before its first batch is sent (so its age is never underestimated); none of the
 * cycle's replace batches belongs to it yet.
 */
export async function startReplaceSession(client: ClientBase, cycleId: string, sessionId: number): Promise<void> {
  await client.query(
    `UPDATE ${SCHEMA}.sync_cycles
        SET replace_session_id = $2, replace_session_started_at = now(), replace_sessions = replace_sessions + 1
      WHERE cycle_id = $1`,
    [cycleId, sessionId],
  );
  await client.query(
    `UPDATE ${SCHEMA}.cycle_batches SET acknowledged_at = NULL, invalid_entries = 0
      WHERE cycle_id = $1 AND operation = 'replace'`,
    [cycleId],
  );
}

/** The session cannot go on; the next attempt starts another. */
export async function dropReplaceSession(client: Queryable, cycleId: string): Promise<void> {
  await client.query(
    `UPDATE ${SCHEMA}.sync_cycles SET replace_session_id = NULL, replace_session_started_at = NULL WHERE cycle_id = $1`,
    [cycleId],
  );
}

export async function acknowledgeReplaceBatch(
  client: ClientBase,
  cycleId: string,
  batch: PlannedBatch,
  invalidEntries: number,
): Promise<void> {
  await client.query(
    `UPDATE ${SCHEMA}.cycle_batches SET acknowledged_at = now(), invalid_entries = $4
      WHERE cycle_id = $1 AND operation = $2 AND batch_no = $3`,
    [cycleId, batch.operation, batch.batchNo, invalidEntries],
  );
}

/**
 * Meta's membership is now the rows of the session's acknowledged batches. Everything in our tables follows:
 * nothing is pending, rows no member wants are forgotten, and wanted rows the session did not receive (when it
 * ended early) are pending addition and planned as the cycle's add batches. The audience owes no replace any more.
 * Returns the rows the replace put at Meta.
 */
export async function settleReplace(
  client: ClientBase,
  audienceKey: string,
  cycleId: string,
  batchSize: number,
): Promise<number> {
  const audienceNo = await audienceNumber(client, audienceKey);
  await client.query(`DELETE FROM ${SCHEMA}.pending_rows WHERE audience_no = $1`, [audienceNo]);
  await client.query(`DELETE FROM ${SCHEMA}.audience_rows WHERE audience_no = $1 AND wanted = 0`, [audienceNo]);
  await forgetUnsentLoad(client, audienceKey);
  await pendRowsOfUnacknowledgedBatches(client, audienceKey, cycleId, 'replace');
  await client.query(
    `DELETE FROM ${SCHEMA}.cycle_batches WHERE cycle_id = $1 AND operation = 'replace' AND acknowledged_at IS NULL`,
    [cycleId],
  );
  await planBatches(client, audienceKey, cycleId, batchSize);
  return finishReplace(client, audienceKey, cycleId);
}

/**
 * Meta will not replace this audience: the cycle adds and removes what our tables say has changed instead, and
 * the audience owes no replace (it could never be given one).
 */
export async function giveUpReplace(client: ClientBase, audienceKey: string, cycleId: string, batchSize: number): Promise<void> {
  await client.query(`DELETE FROM ${SCHEMA}.cycle_batches WHERE cycle_id = $1 AND operation = 'replace'`, [cycleId]);
  await client.query(`UPDATE ${SCHEMA}.sync_cycles SET replace_given_up = true WHERE cycle_id = $1`, [cycleId]);
  // A replacing first load listed nothing pending; now its rows are to be added.
  await listUnsentLoad(client, audienceKey);
  await planBatches(client, audienceKey, cycleId, batchSize);
  await finishReplace(client, audienceKey, cycleId);
}

/** Meta counts a session's invalid entries across its batches: the last answer's count is the session's. */
async function finishReplace(client: ClientBase, audienceKey: string, cycleId: string): Promise<number> {
  await client.query(`UPDATE ${SCHEMA}.audiences SET replace_due = NULL WHERE audience_key = $1`, [audienceKey]);
  const { rows } = await client.query<{ replaced: number }>(
    `WITH sent AS (
       SELECT coalesce(sum(row_count), 0)::integer AS rows, coalesce(max(invalid_entries), 0)::integer AS invalid
         FROM ${SCHEMA}.cycle_batches WHERE cycle_id = $1 AND operation = 'replace')
     UPDATE ${SCHEMA}.sync_cycles SET replaced = sent.rows, invalid_entries = invalid_entries + sent.invalid,
            replace_session_id = NULL, replace_session_started_at = NULL
       FROM sent WHERE cycle_id = $1
     RETURNING replaced`,
    [cycleId],
  );
  return rows[0]?.replaced ?? 0;
}
