import type { ClientBase, Pool } from 'pg';
import { isReplaceReason, type ReplaceReason } from '../workflows/replace-reason';
import type { AudienceMembership } from './member-changes';
import { SCHEMA, type Queryable } from './pool';
import { StateInvariantError } from './state-invariant';

/**
 * How a cycle ended. `running` is a cycle in progress, or one a crash interrupted before the next cycle began; a
 * retried preparation sets a cycle it had ended back to `running` (openCycle).
 */
export type CycleOutcome =
  | 'running'
  | 'synced'
  | 'replaced'
  | 'unchanged'
  | 'below_minimum'
  | 'needs_confirmation'
  | 'needs_attention'
  | 'audience_gone'
  | 'failed'
  | 'abandoned';

/** Counts of dropped values by "KEY:reason", and of members with a usable value by key. */
export type KeyCounts = Record<string, number>;

export interface CyclePlanRecord {
  members: number;
  sourceRows: number;
  /** Members whose rows were built this cycle (new or changed ones; all on a full rebuild). */
  rebuiltMembers: number;
  adds: number;
  removes: number;
  dropped: number;
  drops: KeyCounts;
  coverage: KeyCounts;
  /** Set when the cycle replaces the audience's whole membership at Meta. */
  replace?: ReplaceReason;
}

export interface CycleRecord extends Partial<CyclePlanRecord> {
  cycleId: string;
  audienceKey: string;
  fbAudienceId: string | null;
  startedAt: Date;
  finishedAt: Date | null;
  outcome: CycleOutcome;
  added: number;
  removed: number;
  /** Rows a replace's session put at Meta (those it did not receive, when it ended early, are counted in `added`). */
  replaced: number;
  replaceReason?: ReplaceReason;
  /** Meta would not replace the audience (1870144): the cycle added and removed instead. */
  replaceGivenUp: boolean;
  invalidEntries: number;
  message: string | null;
}

/**
 * Ends a preparation plans for, which a retried attempt of it may plan again: an earlier attempt committed its plan
 * but Temporal did not hear of it (a worker died, or the attempt outlived its timeout). Any other ending comes after
 * the workflow has moved past the preparation, so only an attempt it no longer waits for could find it.
 */
const REOPENABLE_OUTCOMES: readonly CycleOutcome[] = ['running', 'unchanged', 'below_minimum', 'needs_confirmation'];

/**
 * Opens (or, on a retried attempt, reopens: running again, even if an earlier attempt ended it without an upload) a
 * cycle and closes any earlier cycle of the audience that a crash left running: having ended, they have their
 * working tables dropped like any ended cycle's. A cycle that ended otherwise, or that a later cycle of the audience
 * followed, is not reopened (StateInvariantError): only an attempt the workflow no longer waits for could find it,
 * and the record, the upload's guard against sending its batches twice and the cycle running now stay as they are.
 */
export async function openCycle(
  client: ClientBase,
  cycle: { cycleId: string; audienceKey: string; fbAudienceId: string },
): Promise<void> {
  // A cycle's start moves only when it is reopened, which no later cycle allows: so no later one has started.
  const opened = await client.query(
    `INSERT INTO ${SCHEMA}.sync_cycles AS cycle (cycle_id, audience_key, fb_audience_id) VALUES ($1, $2, $3)
     ON CONFLICT (cycle_id) DO UPDATE
       SET fb_audience_id = excluded.fb_audience_id, started_at = now(), outcome = 'running', finished_at = NULL, message = NULL
       WHERE cycle.outcome = ANY ($4)
         AND NOT EXISTS (SELECT FROM ${SCHEMA}.sync_cycles later
                          WHERE later.audience_key = cycle.audience_key AND later.started_at > cycle.started_at)`,
    [cycle.cycleId, cycle.audienceKey, cycle.fbAudienceId, REOPENABLE_OUTCOMES],
  );
  if (opened.rowCount === 0) {
    throw new StateInvariantError(`cycle ${cycle.cycleId} has already ended past its preparation, which may not plan it again`);
  }
  await client.query(
    `UPDATE ${SCHEMA}.sync_cycles SET outcome = 'abandoned', finished_at = now()
      WHERE audience_key = $1 AND outcome = 'running' AND cycle_id <> $2`,
    [cycle.audienceKey, cycle.cycleId],
  );
  // A retried preparation plans again from the pending rows; an earlier attempt's plan is void.
  await client.query(`DELETE FROM ${SCHEMA}.cycle_batches WHERE cycle_id = $1`, [cycle.cycleId]);
}

export async function recordPlan(client: ClientBase, cycleId: string, plan: CyclePlanRecord): Promise<void> {
  await client.query(
    `UPDATE ${SCHEMA}.sync_cycles
        SET members = $2, source_rows = $3, rebuilt_members = $4, adds = $5, removes = $6,
            dropped = $7, drops = $8, coverage = $9, replace_reason = $10
      WHERE cycle_id = $1`,
    [
      cycleId,
      plan.members,
      plan.sourceRows,
      plan.rebuiltMembers,
      plan.adds,
      plan.removes,
      plan.dropped,
      JSON.stringify(plan.drops),
      JSON.stringify(plan.coverage),
      plan.replace ?? null,
    ],
  );
}

/**
 * The membership last counted for the audience, by the latest cycle that recorded a plan (this one too, when an
 * earlier attempt of it did). Apart from a first load, which is counted in full, the members table changes only
 * in the transaction that records a plan: a later cycle takes this count as it is when no member changed, or
 * moves it by the members that did (movedMembership), rather than counting a million members again.
 */
export async function lastCountedMembership(
  client: Queryable,
  audienceKey: string,
): Promise<AudienceMembership | undefined> {
  const { rows } = await client.query<{ members: number; coverage: KeyCounts }>(
    `SELECT members, coverage FROM ${SCHEMA}.sync_cycles
      WHERE audience_key = $1 AND members IS NOT NULL AND coverage IS NOT NULL
      ORDER BY started_at DESC LIMIT 1`,
    [audienceKey],
  );
  return rows[0] && { members: Number(rows[0].members), coverage: rows[0].coverage };
}

/**
 * Ends a running cycle. One that has ended keeps how it ended: the workflow closes a cycle whose preparation it gave
 * up on, which an attempt it no longer heard from may have ended, and the record says what that attempt did.
 */
export async function finishCycle(
  client: Queryable,
  cycleId: string,
  outcome: Exclude<CycleOutcome, 'running'>,
  message: string | null = null,
): Promise<void> {
  await client.query(
    `UPDATE ${SCHEMA}.sync_cycles SET outcome = $2, message = $3, finished_at = now() WHERE cycle_id = $1 AND outcome = 'running'`,
    [cycleId, outcome, message],
  );
}

export async function readCycle(client: Queryable, cycleId: string): Promise<CycleRecord | undefined> {
  const { rows } = await client.query(`${CYCLE_SELECT} WHERE cycle_id = $1`, [cycleId]);
  return rows.map(toCycleRecord)[0];
}

export async function listCycles(pool: Pool, audienceKey: string, limit: number): Promise<CycleRecord[]> {
  const { rows } = await pool.query(`${CYCLE_SELECT} WHERE audience_key = $1 ORDER BY started_at DESC LIMIT $2`, [
    audienceKey,
    limit,
  ]);
  return rows.map(toCycleRecord);
}

const CYCLE_SELECT = `SELECT * FROM ${SCHEMA}.sync_cycles`;

function toCycleRecord(row: Record<string, unknown>): CycleRecord {
  const count = (value: unknown) => (value === null || value === undefined ? undefined : Number(value));
  return {
    cycleId: String(row.cycle_id),
    audienceKey: String(row.audience_key),
    fbAudienceId: (row.fb_audience_id as string | null) ?? null,
    startedAt: row.started_at as Date,
    finishedAt: (row.finished_at as Date | null) ?? null,
    outcome: row.outcome as CycleOutcome,
    members: count(row.members),
    sourceRows: count(row.source_rows),
    rebuiltMembers: count(row.rebuilt_members),
    adds: count(row.adds),
    removes: count(row.removes),
    added: Number(row.added),
    removed: Number(row.removed),
    replaced: Number(row.replaced),
    replaceGivenUp: row.replace_given_up === true,
    ...(isReplaceReason(row.replace_reason) ? { replaceReason: row.replace_reason } : {}),
    invalidEntries: Number(row.invalid_entries),
    dropped: count(row.dropped),
    drops: (row.drops as KeyCounts | null) ?? undefined,
    coverage: (row.coverage as KeyCounts | null) ?? undefined,
    message: (row.message as string | null) ?? null,
  };
}
