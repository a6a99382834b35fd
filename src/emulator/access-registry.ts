import type { Pool } from 'pg';
import { GraphErrorResponse } from './graph-error-response';
import { sha256Hex } from './match-key-catalog';
import { quotedSchemaName } from './store-schema';

/**
 * Who may call: revoked tokens and ad accounts whose Custom Audience Terms are not accepted. Every Graph call
 * consults it, so it is answered from memory; changes are written through to PostgreSQL so a restarted
 * emulator keeps them. Tokens are kept only as SHA-256 digests.
 */
export class AccessRegistry {
  private readonly s: string;
  private revokedTokenDigests = new Set<string>();
  private accountsWithoutTerms = new Set<string>();

  constructor(
    private readonly pool: Pool,
    schema: string,
    private readonly requiredToken: string | undefined,
  ) {
    this.s = quotedSchemaName(schema);
  }

  async load(): Promise<void> {
    const revoked = await this.pool.query<{ token_sha256: string }>(`SELECT token_sha256 FROM ${this.s}.revoked_tokens`);
    const terms = await this.pool.query<{ ad_account_id: string }>(
      `SELECT ad_account_id FROM ${this.s}.ad_account_terms WHERE NOT custom_audience_terms_accepted`,
    );
    this.revokedTokenDigests = new Set(revoked.rows.map((row) => row.token_sha256));
    this.accountsWithoutTerms = new Set(terms.rows.map((row) => row.ad_account_id));
  }

  /** Meta's answers: 104 without a token, 190 for a token it cannot use, 190/460 for a revoked session. */
  assertUsableToken(token: string | undefined): void {
    if (token === undefined || token === '') throw new GraphErrorResponse(104);
    if (this.requiredToken !== undefined && token !== this.requiredToken) throw new GraphErrorResponse(190);
    if (this.revokedTokenDigests.has(sha256Hex(token))) throw new GraphErrorResponse(190, 460);
  }

  async setTokenRevoked(token: string, revoked: boolean): Promise<void> {
    const tokenDigest = sha256Hex(token);
    if (revoked) {
      await this.pool.query(`INSERT INTO ${this.s}.revoked_tokens VALUES ($1) ON CONFLICT DO NOTHING`, [tokenDigest]);
      this.revokedTokenDigests.add(tokenDigest);
    } else {
      await this.pool.query(`DELETE FROM ${this.s}.revoked_tokens WHERE token_sha256 = $1`, [tokenDigest]);
      this.revokedTokenDigests.delete(tokenDigest);
    }
  }

  termsAccepted(adAccountId: string): boolean {
    return !this.accountsWithoutTerms.has(adAccountId);
  }

  /** Writes to Custom Audiences of an account need the business's acceptance of the terms (reference §1). */
  assertTermsAccepted(adAccountId: string): void {
    if (!this.termsAccepted(adAccountId)) throw new GraphErrorResponse(200, 1870034);
  }

  async setTermsAccepted(adAccountId: string, accepted: boolean): Promise<void> {
    await this.pool.query(
      `INSERT INTO ${this.s}.ad_account_terms VALUES ($1, $2)
       ON CONFLICT (ad_account_id) DO UPDATE SET custom_audience_terms_accepted = EXCLUDED.custom_audience_terms_accepted`,
      [adAccountId, accepted],
    );
    if (accepted) this.accountsWithoutTerms.delete(adAccountId);
    else this.accountsWithoutTerms.add(adAccountId);
  }

  /** After the tables were wiped. */
  forgetAll(): void {
    this.revokedTokenDigests.clear();
    this.accountsWithoutTerms.clear();
  }
}
