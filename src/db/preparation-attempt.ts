import type { ClientBase } from 'pg';
import { SCHEMA } from './pool';
import { StateInvariantError } from './state-invariant';

/**
 * Records the attempt as the one preparing the audience, in the transaction that claims the audience for a cycle
 * and creates the cycle's tables afresh. A cycle's preparation may be attempted again while an earlier attempt still runs (one that outlived its timeout),
 * and both name the same working tables (cycleTables). Each attempt's claim of the audience records it, after
 * waiting for any transaction of an earlier attempt that holds the audience's record; a transaction that writes the
 * cycle's tables or the audience's members holds the record and goes on only while its attempt is the one recorded.
 * So an earlier attempt stops at its next such transaction instead of writing into tables a later attempt has
 * created anew, and never plans over what the later one wrote.
 */
export interface AttemptClaim {
  audienceKey: string;
  /** Unique to the attempt. */
  attempt: string;
}

export async function claimForAttempt(client: ClientBase, { audienceKey, attempt }: AttemptClaim): Promise<void> {
  const claimed = await client.query(`UPDATE ${SCHEMA}.audiences SET load_attempt = $2 WHERE audience_key = $1`, [
    audienceKey,
    attempt,
  ]);
  if (claimed.rowCount !== 1) throw new StateInvariantError(`audience ${audienceKey} has no record to claim`);
}

/**
 * Holds the audience's record until the caller's transaction ends (`FOR UPDATE` where the transaction changes the
 * record itself), or fails it if a later attempt has claimed the audience.
 */
export async function holdForAttempt(
  client: ClientBase,
  { audienceKey, attempt }: AttemptClaim,
  lock: 'SHARE' | 'UPDATE' = 'SHARE',
): Promise<void> {
  const { rows } = await client.query<{ load_attempt: string | null }>(
    `SELECT load_attempt FROM ${SCHEMA}.audiences WHERE audience_key = $1 FOR ${lock}`,
    [audienceKey],
  );
  if (rows[0]?.load_attempt !== attempt) throw claimedByLaterAttempt(audienceKey);
}

export function claimedByLaterAttempt(audienceKey: string): Error {
  return new Error(`audience ${audienceKey} was claimed by a later attempt meanwhile`);
}
