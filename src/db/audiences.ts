import type { ClientBase } from 'pg';
import { AUDIENCE_SCHEMA } from '../matching/keys';
import { isReplaceReason, type ReplaceReason } from '../workflows/replace-reason';
import { SCHEMA, type Queryable } from './pool';
import { StateInvariantError } from './state-invariant';
import { listUnsentLoad } from './unsent-load';

export interface AudienceRecord {
  audienceKey: string;
  adAccountId: string;
  name: string;
  fbAudienceId: string | null;
}

export async function saveAudience(pool: Queryable, audience: AudienceRecord): Promise<void> {
  await pool.query(
    `INSERT INTO ${SCHEMA}.audiences (audience_key, ad_account_id, name, fb_audience_id) VALUES ($1, $2, $3, $4)
     ON CONFLICT (audience_key) DO UPDATE
       SET ad_account_id = excluded.ad_account_id, name = excluded.name,
           fb_audience_id = excluded.fb_audience_id, updated_at = now()`,
    [audience.audienceKey, audience.adAccountId, audience.name, audience.fbAudienceId],
  );
}

export async function readAudience(pool: Queryable, audienceKey: string): Promise<AudienceRecord | undefined> {
  const { rows } = await pool.query<{ ad_account_id: string; name: string; fb_audience_id: string | null }>(
    `SELECT ad_account_id, name, fb_audience_id FROM ${SCHEMA}.audiences WHERE audience_key = $1`,
    [audienceKey],
  );
  return rows.map((row) => ({
    audienceKey,
    adAccountId: row.ad_account_id,
    name: row.name,
    fbAudienceId: row.fb_audience_id,
  }))[0];
}

export interface CycleClaim {
  audienceKey: string;
  adAccountId: string;
  name: string;
  fbAudienceId: string;
  /** The generation the workflow last saw planned; 0 when it has seen none. */
  expectedGeneration: number;
  /** The workflow asks this cycle to replace. */
  replace?: ReplaceReason;
  /** The schema this cycle's rows have. */
  uploadSchema: readonly string[];
}

/**
 * Opens the audience's record for a cycle (locking it until the caller's transaction ends) and returns why the
 * cycle must replace, if it must. When the record is missing, describes another Custom Audience, or is older
 * than the workflow last saw, what our tables say Meta holds cannot be trusted: the audience's members, rows and
 * pending changes are forgotten (the cycle loads them afresh) and a replace is owed until one ends.
 */
export async function claimAudienceForCycle(client: ClientBase, claim: CycleClaim): Promise<ReplaceReason | undefined> {
  const { rows } = await client.query<{
    fb_audience_id: string | null;
    generation: string;
    replace_due: string | null;
    upload_schema: string[] | null;
    has_rows: boolean;
  }>(
    `SELECT fb_audience_id, generation, replace_due, upload_schema, fingerprint_basis IS NOT NULL AS has_rows
       FROM ${SCHEMA}.audiences WHERE audience_key = $1 FOR UPDATE`,
    [claim.audienceKey],
  );
  const record = rows[0];
  const lost: ReplaceReason | undefined = !record
    ? 'records_missing'
    : record.fb_audience_id !== claim.fbAudienceId
      ? 'records_of_other_audience'
      : Number(record.generation) < claim.expectedGeneration
        ? 'records_older'
        : undefined;
  if (lost) {
    // The generation goes on from the workflow's, so the next cycle's claim does not take it for lost again.
    const { rows: recorded } = await client.query<{ audience_no: number }>(
      `INSERT INTO ${SCHEMA}.audiences (audience_key, ad_account_id, name, fb_audience_id, generation, replace_due)
       VALUES ($1, $2, $3, $4, $5, $6)
       ON CONFLICT (audience_key) DO UPDATE
         SET ad_account_id = excluded.ad_account_id, name = excluded.name, fb_audience_id = excluded.fb_audience_id,
             fingerprint_basis = NULL, unsent_load = NULL, generation = greatest(${SCHEMA}.audiences.generation, excluded.generation),
             replace_due = excluded.replace_due, updated_at = now()
       RETURNING audience_no`,
      [claim.audienceKey, claim.adAccountId, claim.name, claim.fbAudienceId, claim.expectedGeneration, lost],
    );
    // A missing record's rows went with it (see migrations); a record kept keeps its number.
    await forgetMembers(client, recorded[0].audience_no);
    return lost;
  }
  // Before this cycle plans from the pending rows (or a retry of the load's own cycle voids its batches).
  if (record.has_rows) await listUnsentLoad(client, claim.audienceKey);
  const due = isReplaceReason(record.replace_due) ? record.replace_due : undefined;
  // Rows built before their schema was recorded have the match keys alone.
  const schemaChanged = record.has_rows && (record.upload_schema ?? AUDIENCE_SCHEMA).join() !== claim.uploadSchema.join();
  const asked = claim.replace ?? (schemaChanged ? 'schema_changed' : undefined);
  if (due || !asked) return due;
  await markReplaceDue(client, claim.audienceKey, asked);
  return asked;
}

/** Records the schema of the audience's rows, as the cycle that built them commits its plan. */
export async function recordUploadSchema(client: Queryable, audienceKey: string, schema: readonly string[]): Promise<void> {
  await client.query(`UPDATE ${SCHEMA}.audiences SET upload_schema = $2 WHERE audience_key = $1`, [audienceKey, schema]);
}

/** The schema the audience's rows were built with; rows from before it was recorded have the match keys alone. */
export async function readUploadSchema(client: Queryable, audienceKey: string): Promise<readonly string[]> {
  const { rows } = await client.query<{ upload_schema: string[] | null }>(
    `SELECT upload_schema FROM ${SCHEMA}.audiences WHERE audience_key = $1`,
    [audienceKey],
  );
  return rows[0]?.upload_schema ?? AUDIENCE_SCHEMA;
}

/** Owes the audience a replace, unless one is owed already (whose reason is the one to report). */
export async function markReplaceDue(client: Queryable, audienceKey: string, reason: ReplaceReason): Promise<void> {
  await client.query(
    `UPDATE ${SCHEMA}.audiences SET replace_due = coalesce(replace_due, $2) WHERE audience_key = $1`,
    [audienceKey, reason],
  );
}

/** Counts a committed plan; the workflow keeps the number to recognise our tables later. */
export async function advanceGeneration(client: Queryable, audienceKey: string): Promise<number> {
  const { rows } = await client.query<{ generation: string }>(
    `UPDATE ${SCHEMA}.audiences SET generation = generation + 1 WHERE audience_key = $1 RETURNING generation`,
    [audienceKey],
  );
  if (!rows[0]) throw new StateInvariantError(`audience ${audienceKey} lost its record while the cycle planned`);
  return Number(rows[0].generation);
}

/** Deletes the members, rows and pending changes of the audience with that number. */
async function forgetMembers(client: Queryable, audienceNo: number): Promise<void> {
  for (const table of ['audience_members', 'audience_rows', 'pending_rows']) {
    await client.query(`DELETE FROM ${SCHEMA}.${table} WHERE audience_no = $1`, [audienceNo]);
  }
}

/**
 * Deletes every record of the audience: its cycles, and its own, which takes its members, rows and pending changes
 * with it (see migrations).
 */
export async function forgetAudience(pool: Queryable, audienceKey: string): Promise<void> {
  await pool.query(`DELETE FROM ${SCHEMA}.sync_cycles WHERE audience_key = $1`, [audienceKey]);
  await pool.query(`DELETE FROM ${SCHEMA}.audiences WHERE audience_key = $1`, [audienceKey]);
}
