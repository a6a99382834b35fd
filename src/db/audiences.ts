import { SCHEMA, type Queryable } from './pool';

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
