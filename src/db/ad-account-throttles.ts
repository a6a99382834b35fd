import type { Pool } from 'pg';
import { SCHEMA } from './pool';

/** Records that Meta asked us to leave an ad account alone until `until`; a later, longer block wins. */
export async function blockAdAccount(pool: Pool, adAccountId: string, until: Date): Promise<void> {
  await pool.query(
    `INSERT INTO ${SCHEMA}.ad_account_throttles (ad_account_id, blocked_until) VALUES ($1, $2)
     ON CONFLICT (ad_account_id) DO UPDATE
       SET blocked_until = greatest(${SCHEMA}.ad_account_throttles.blocked_until, excluded.blocked_until)`,
    [adAccountId, until],
  );
}

/** Milliseconds until the ad account may be called again; 0 when it is not blocked. */
export async function adAccountBlockedForMs(pool: Pool, adAccountId: string): Promise<number> {
  const { rows } = await pool.query<{ remaining_ms: string | null }>(
    `SELECT ceil(extract(epoch FROM blocked_until - clock_timestamp()) * 1000) AS remaining_ms
       FROM ${SCHEMA}.ad_account_throttles WHERE ad_account_id = $1`,
    [adAccountId],
  );
  return Math.max(0, Number(rows[0]?.remaining_ms ?? 0));
}
