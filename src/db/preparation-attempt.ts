import type { ClientBase, Pool, PoolClient } from 'pg';
import { inTransaction, SCHEMA } from './pool';
import { StateInvariantError } from './state-invariant';

// A cycle's preparation may be attempted again while an earlier attempt still runs (one that outlived its timeout),
// and both name the same working tables (cycleTables). Each attempt's claim of the audience records the attempt,
// and the attempt's writes to the cycle's tables and to the audience's members go on only while it is the attempt
// recorded: an earlier attempt stops at its next check instead of writing into tables a later attempt has created
// anew, and never plans from what the later one wrote.

export interface AttemptClaim {
  audienceKey: string;
  /** Unique to the attempt. */
  attempt: string;
}

/** Records the attempt, in the transaction that claims the audience for a cycle and creates its tables afresh. */
export async function claimForAttempt(client: ClientBase, { audienceKey, attempt }: AttemptClaim): Promise<void> {
  const claimed = await client.query(`UPDATE ${SCHEMA}.audiences SET load_attempt = $2 WHERE audience_key = $1`, [
    audienceKey,
    attempt,
  ]);
  if (claimed.rowCount !== 1) throw new StateInvariantError(`audience ${audienceKey} has no record to claim`);
}

/**
 * Fails the caller's transaction if a later attempt has claimed the audience. With `hold`, the audience's record is
 * held until the transaction ends, so that no claim lands while it writes: a claim waits for it. A COPY's
 * transaction checks without holding, as it commits: its cycle's claim drops the very tables the COPY holds a lock
 * on, so it cannot commit before the COPY does (and then drops what the COPY wrote), and holding the record there
 * would have that claim and this check wait on each other.
 */
export async function assertClaimed(
  client: ClientBase,
  { audienceKey, attempt }: AttemptClaim,
  hold?: 'SHARE' | 'UPDATE',
): Promise<void> {
  const { rows } = await client.query<{ load_attempt: string | null }>(
    `SELECT load_attempt FROM ${SCHEMA}.audiences WHERE audience_key = $1${hold ? ` FOR ${hold}` : ''}`,
    [audienceKey],
  );
  if (rows[0]?.load_attempt !== attempt) throw claimedByLaterAttempt(audienceKey);
}

/** `work` in a transaction that first holds the audience's record for the attempt (see assertClaimed). */
export function inClaimedTransaction<T>(
  pool: Pool,
  claim: AttemptClaim,
  hold: 'SHARE' | 'UPDATE',
  work: (client: PoolClient) => Promise<T>,
): Promise<T> {
  return inTransaction(pool, async (client) => {
    await assertClaimed(client, claim, hold);
    return work(client);
  });
}

export function claimedByLaterAttempt(audienceKey: string): Error {
  return new Error(`audience ${audienceKey} was claimed by a later attempt meanwhile`);
}
