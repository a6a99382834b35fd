import type { Pool, PoolClient } from 'pg';
import QueryStream from 'pg-query-stream';
import { sameSchema } from './audience-fields';
import { quotedSchemaName } from './store-schema';

export interface AudienceRecord {
  id: string;
  /** Digits only, without act_. */
  adAccountId: string;
  name: string;
  description: string;
  subtype: string;
  customerFileSource: string;
  /** A customer list whose rows carry LOOKALIKE_VALUE (reference §6). */
  isValueBased: boolean;
  /** For a lookalike: its seed, and the ratio and country it was built for. */
  lookalike: Lookalike | null;
  /** Schema of the audience's first upload; later uploads must use the same one. */
  uploadSchema: string[] | null;
  rowCount: number;
  createdAt: Date;
  updatedAt: Date;
  contentUpdatedAt: Date | null;
  deletedAt: Date | null;
  /** The replace session in progress, if one is (operation_status 414, /users refused). */
  replace: OpenReplace | null;
}

export interface OpenReplace {
  sessionId: string;
  startedAt: Date;
}

export interface Lookalike {
  originAudienceId: string;
  /** 0.01 to 0.10 of the country's population. */
  ratio: number;
  /** ISO 3166-1 alpha-2, uppercase. */
  country: string;
}

export interface NewAudience {
  adAccountId: string;
  name: string;
  description: string;
  subtype: string;
  customerFileSource: string;
  isValueBased: boolean;
  lookalike: Lookalike | null;
}

export type RemovalOutcome =
  | { refused: false; removed: number; rowCount: number }
  | { refused: true; rowCountAfterRemoval: number };

export interface SessionTotals {
  numReceived: number;
  numInvalidEntries: number;
}

/** What became of a usersreplace batch (reference §4). */
export type ReplaceOutcome =
  | { kind: 'accepted'; totals: SessionTotals; replaced: boolean }
  /** Another replace session of the audience is open (1870145). */
  | { kind: 'busy' }
  /** A batch other than 1 for a session that never started (1870147). */
  | { kind: 'not_started' }
  /** The session ended with its last batch (1870159). */
  | { kind: 'finished' }
  /** The session outran its window: the audience holds what it received (1870158). */
  | { kind: 'timed_out' }
  /** A later batch with another schema than the session's first (2650, like a data source mismatch). */
  | { kind: 'schema_mismatch'; sessionSchema: string[] };

export interface ReplaceBatch {
  schema: readonly string[];
  sessionId: number;
  batchSeq: number;
  lastBatch: boolean;
  rows: readonly (readonly unknown[])[];
  received: number;
  invalid: number;
}

interface AudienceRow {
  id: string;
  ad_account_id: string;
  name: string;
  description: string;
  subtype: string;
  customer_file_source: string;
  is_value_based: boolean;
  origin_audience_id: string | null;
  lookalike_spec: { ratio: number; country: string } | null;
  upload_schema: string[] | null;
  row_count: string;
  created_at: Date;
  updated_at: Date;
  content_updated_at: Date | null;
  deleted_at: Date | null;
  replace_session_id: string | null;
  replace_started_at: Date | null;
}

/** Why an emulator started with rowKeysOnly cannot do `what`. */
export const ROW_KEYS_ONLY = (what: string) => `This emulator keeps only row keys (rowKeysOnly), so it cannot ${what}`;

/** Rows are read back in pages of this size so a million-row audience is never held in memory at once. */
const ROW_PAGE_SIZE = 10_000;

/**
 * The rows of a request, sent as one JSON array in $2: the text of each element is exactly JSON.stringify of the
 * row (json, unlike jsonb, keeps its input text), without a text[] literal to escape and parse for every row.
 */
const ROWS_OF_JSON_PARAMETER = `(SELECT element::text AS row_json FROM json_array_elements($2::json) AS element) AS uploaded`;

/** Audiences with the replace session each has open, if any. */
const AUDIENCES_WITH_REPLACE = (s: string) => `${s}.audiences a
  LEFT JOIN ${s}.replace_sessions r ON r.audience_id = a.id AND r.finished_at IS NULL`;
const AUDIENCE_COLUMNS = 'a.*, r.session_id AS replace_session_id, r.started_at AS replace_started_at';

/**
 * Audiences, their rows and upload sessions in PostgreSQL. Every membership change is one set-based statement
 * per request: rows go in through unnest() with ON CONFLICT DO NOTHING and come out with DELETE ... = ANY(),
 * and the audience's row count moves in the same statement by the number of rows actually affected.
 * Rows are handled in key order so concurrent requests on one audience lock in the same order and cannot deadlock.
 */
export class AudienceStore {
  private readonly s: string;
  /** What is stored of each uploaded row: its JSON text, or nothing (see EmulatorOptions.rowKeysOnly). */
  private readonly storedJson: string;

  constructor(
    private readonly pool: Pool,
    schema: string,
    readonly rowKeysOnly = false,
  ) {
    this.s = quotedSchemaName(schema);
    this.storedJson = rowKeysOnly ? 'NULL' : 'row_json';
  }

  async createAudience(audience: NewAudience): Promise<AudienceRecord> {
    const { rows } = await this.pool.query<AudienceRow>(
      `INSERT INTO ${this.s}.audiences
         (ad_account_id, name, description, subtype, customer_file_source, is_value_based, origin_audience_id, lookalike_spec)
       VALUES ($1, $2, $3, $4, $5, $6, $7, $8) RETURNING *, NULL AS replace_session_id, NULL AS replace_started_at`,
      [
        audience.adAccountId,
        audience.name,
        audience.description,
        audience.subtype,
        audience.customerFileSource,
        audience.isValueBased,
        audience.lookalike?.originAudienceId ?? null,
        audience.lookalike ? JSON.stringify({ ratio: audience.lookalike.ratio, country: audience.lookalike.country }) : null,
      ],
    );
    return toRecord(rows[0] as AudienceRow);
  }

  /** Deleted audiences too: callers decide how a deleted audience answers. */
  async findAudience(id: string): Promise<AudienceRecord | undefined> {
    if (!isBigintId(id)) return undefined;
    const { rows } = await this.pool.query<AudienceRow>(
      `SELECT ${AUDIENCE_COLUMNS} FROM ${AUDIENCES_WITH_REPLACE(this.s)} WHERE a.id = $1`,
      [id],
    );
    return rows[0] && toRecord(rows[0]);
  }

  /** One page of an account's live audiences in id order, starting after `afterId`. */
  async listAccountAudiences(adAccountId: string, afterId: string | undefined, limit: number): Promise<AudienceRecord[]> {
    const { rows } = await this.pool.query<AudienceRow>(
      `SELECT ${AUDIENCE_COLUMNS} FROM ${AUDIENCES_WITH_REPLACE(this.s)}
       WHERE a.ad_account_id = $1 AND a.deleted_at IS NULL AND a.id > COALESCE($2::bigint, 0)
       ORDER BY a.id LIMIT $3`,
      [adAccountId, afterId ?? null, limit],
    );
    return rows.map(toRecord);
  }

  async countLiveAudiences(adAccountId: string, subtype: string): Promise<number> {
    const { rows } = await this.pool.query<{ count: string }>(
      `SELECT count(*) FROM ${this.s}.audiences WHERE ad_account_id = $1 AND subtype = $2 AND deleted_at IS NULL`,
      [adAccountId, subtype],
    );
    return Number(rows[0]?.count ?? 0);
  }

  /** The ids of the live lookalikes built from the audience. */
  async lookalikesOf(originAudienceId: string): Promise<string[]> {
    const { rows } = await this.pool.query<{ id: string }>(
      `SELECT id FROM ${this.s}.audiences WHERE origin_audience_id = $1 AND deleted_at IS NULL ORDER BY id`,
      [originAudienceId],
    );
    return rows.map((row) => String(row.id));
  }

  /** Rows of the audience whose COUNTRY cell is `countryHash` (the SHA-256 of a lowercase country code). */
  async countRowsWithCountry(audience: AudienceRecord, countryHash: string): Promise<number> {
    if (this.rowKeysOnly) throw new Error(ROW_KEYS_ONLY('count rows by country'));
    const column = audience.uploadSchema?.indexOf('COUNTRY') ?? -1;
    if (column < 0) return 0;
    const { rows } = await this.pool.query<{ count: string }>(
      `SELECT count(*) FROM ${this.s}.audience_rows WHERE audience_id = $1 AND (row_json::json ->> $2::int) = $3`,
      [audience.id, column, countryHash],
    );
    return Number(rows[0]?.count ?? 0);
  }

  async listAllAudiences(): Promise<AudienceRecord[]> {
    const { rows } = await this.pool.query<AudienceRow>(
      `SELECT ${AUDIENCE_COLUMNS} FROM ${AUDIENCES_WITH_REPLACE(this.s)} ORDER BY a.id`,
    );
    return rows.map(toRecord);
  }

  async updateAudience(id: string, changes: { name?: string; description?: string }): Promise<void> {
    await this.pool.query(
      `UPDATE ${this.s}.audiences
       SET name = COALESCE($2, name), description = COALESCE($3, description), updated_at = now()
       WHERE id = $1`,
      [id, changes.name ?? null, changes.description ?? null],
    );
  }

  /** Deleting releases the rows, as Meta holds nothing for a deleted audience; the record stays for the admin API. */
  async deleteAudience(id: string): Promise<void> {
    await this.inTransaction(async (client) => {
      await client.query(
        `UPDATE ${this.s}.audiences SET deleted_at = now(), updated_at = now(), row_count = 0 WHERE id = $1`,
        [id],
      );
      await client.query(`DELETE FROM ${this.s}.audience_rows WHERE audience_id = $1`, [id]);
      await client.query(`DELETE FROM ${this.s}.upload_sessions WHERE audience_id = $1`, [id]);
      await client.query(`DELETE FROM ${this.s}.replace_sessions WHERE audience_id = $1`, [id]);
      await client.query(`DELETE FROM ${this.s}.replace_rows WHERE audience_id = $1`, [id]);
      return { commit: true, result: undefined };
    });
  }

  /**
   * Records `schema` as the audience's upload schema if it has none yet, atomically, and returns the schema
   * the audience holds afterwards (which differs from `schema` when an earlier upload used another one).
   */
  async claimUploadSchema(id: string, schema: readonly string[]): Promise<string[]> {
    const { rows } = await this.pool.query<{ upload_schema: string[] }>(
      `UPDATE ${this.s}.audiences SET upload_schema = COALESCE(upload_schema, $2::text[]) WHERE id = $1 RETURNING upload_schema`,
      [id, schema],
    );
    return rows[0]?.upload_schema ?? [...schema];
  }

  async addRows(id: string, uploaded: readonly (readonly unknown[])[]): Promise<{ added: number; rowCount: number }> {
    const { rows } = await this.pool.query<{ added: string; row_count: string }>(
      `WITH added AS (
         INSERT INTO ${this.s}.audience_rows (audience_id, row_key, row_json)
         SELECT $1, md5(row_json)::uuid, ${this.storedJson} FROM ${ROWS_OF_JSON_PARAMETER} ORDER BY 2
         ON CONFLICT DO NOTHING
         RETURNING 1
       ), counted AS (SELECT count(*) AS n FROM added)
       UPDATE ${this.s}.audiences
       SET row_count = row_count + counted.n,
           content_updated_at = CASE WHEN counted.n > 0 THEN now() ELSE content_updated_at END
       FROM counted WHERE id = $1
       RETURNING counted.n AS added, row_count`,
      [id, JSON.stringify(uploaded)],
    );
    const result = rows[0];
    return { added: Number(result?.added ?? 0), rowCount: Number(result?.row_count ?? 0) };
  }

  /**
   * Removes the rows, unless that would leave fewer than `minRemainingRows` rows (Meta's 1870047), in which case
   * nothing changes. The check happens inside the transaction so concurrent removals cannot slip past it together.
   */
  async removeRows(id: string, uploaded: readonly (readonly unknown[])[], minRemainingRows: number): Promise<RemovalOutcome> {
    return this.inTransaction<RemovalOutcome>(async (client) => {
      const { rows } = await client.query<{ removed: string; row_count: string }>(
        `WITH removed AS (
           DELETE FROM ${this.s}.audience_rows
           WHERE audience_id = $1
             AND row_key = ANY (ARRAY(SELECT md5(row_json)::uuid FROM ${ROWS_OF_JSON_PARAMETER} ORDER BY 1))
           RETURNING 1
         ), counted AS (SELECT count(*) AS n FROM removed)
         UPDATE ${this.s}.audiences
         SET row_count = row_count - counted.n,
             content_updated_at = CASE WHEN counted.n > 0 THEN now() ELSE content_updated_at END
         FROM counted WHERE id = $1
         RETURNING counted.n AS removed, row_count`,
        [id, JSON.stringify(uploaded)],
      );
      const removed = Number(rows[0]?.removed ?? 0);
      const rowCount = Number(rows[0]?.row_count ?? 0);
      if (removed > 0 && rowCount < minRemainingRows) {
        return { commit: false, result: { refused: true, rowCountAfterRemoval: rowCount } };
      }
      return { commit: true, result: { refused: false, removed, rowCount } };
    });
  }

  /** Adds this request's counts to its upload session, creating the session on its first batch. */
  async recordSessionBatch(
    audienceId: string,
    sessionId: number,
    batch: { received: number; invalid: number; batchSeq: number | null; lastBatch: boolean },
  ): Promise<SessionTotals> {
    const { rows } = await this.pool.query<{ num_received: string; num_invalid_entries: string }>(
      `INSERT INTO ${this.s}.upload_sessions
         (audience_id, session_id, num_received, num_invalid_entries, last_batch_seq, last_batch_received)
       VALUES ($1, $2, $3, $4, $5, $6)
       ON CONFLICT (audience_id, session_id) DO UPDATE SET
         num_received = upload_sessions.num_received + EXCLUDED.num_received,
         num_invalid_entries = upload_sessions.num_invalid_entries + EXCLUDED.num_invalid_entries,
         last_batch_seq = GREATEST(upload_sessions.last_batch_seq, EXCLUDED.last_batch_seq),
         last_batch_received = upload_sessions.last_batch_received OR EXCLUDED.last_batch_received
       RETURNING num_received, num_invalid_entries`,
      [audienceId, sessionId, batch.received, batch.invalid, batch.batchSeq, batch.lastBatch],
    );
    const totals = rows[0];
    return { numReceived: Number(totals?.num_received ?? 0), numInvalidEntries: Number(totals?.num_invalid_entries ?? 0) };
  }

  /**
   * One batch of a usersreplace session, under a lock on the audience so its batches apply one at a time. Batch 1
   * opens the session (or starts the same session over); the batch with the last-batch flag makes the rows the
   * session received the audience's rows, at once. A session older than `windowMs` takes no more batches: it ends
   * with what it received, as Meta's does after 90 minutes.
   */
  async replaceBatch(audienceId: string, batch: ReplaceBatch, windowMs: number): Promise<ReplaceOutcome> {
    return this.inTransaction<ReplaceOutcome>(async (client) => {
      await client.query(`SELECT 1 FROM ${this.s}.audiences WHERE id = $1 FOR UPDATE`, [audienceId]);
      const { rows } = await client.query<{
        session_id: string;
        finished: boolean;
        outcome: string | null;
        expired: boolean;
        upload_schema: string[] | null;
      }>(
        `SELECT session_id, finished_at IS NOT NULL AS finished, outcome, upload_schema,
                started_at < now() - make_interval(secs => $3 / 1000.0) AS expired
           FROM ${this.s}.replace_sessions
          WHERE audience_id = $1 AND (session_id = $2 OR finished_at IS NULL)`,
        [audienceId, batch.sessionId, windowMs],
      );
      const session = rows.find((row) => row.session_id === String(batch.sessionId));
      const other = rows.find((row) => row.session_id !== String(batch.sessionId));
      if (session?.finished) return { commit: true, result: { kind: session.outcome === 'timed_out' ? 'timed_out' : 'finished' } };
      if (session?.expired) {
        await this.finishReplace(client, audienceId, 'timed_out');
        return { commit: true, result: { kind: 'timed_out' } };
      }
      if (other?.expired) await this.finishReplace(client, audienceId, 'timed_out');
      if (batch.batchSeq === 1) {
        if (other && !other.expired) return { commit: true, result: { kind: 'busy' } };
        // Batch 1 again starts the session over: what it received before is dropped.
        await client.query(`DELETE FROM ${this.s}.replace_rows WHERE audience_id = $1`, [audienceId]);
        await client.query(
          `INSERT INTO ${this.s}.replace_sessions (audience_id, session_id, upload_schema) VALUES ($1, $2, $3)
           ON CONFLICT (audience_id, session_id) DO UPDATE
             SET started_at = now(), num_received = 0, num_invalid_entries = 0, upload_schema = excluded.upload_schema`,
          [audienceId, batch.sessionId, batch.schema],
        );
      } else if (!session) {
        return { commit: true, result: { kind: 'not_started' } };
      } else if (session.upload_schema && !sameSchema(session.upload_schema, batch.schema)) {
        return { commit: true, result: { kind: 'schema_mismatch', sessionSchema: session.upload_schema } };
      }
      await client.query(
        `INSERT INTO ${this.s}.replace_rows (audience_id, row_key, row_json)
         SELECT $1, md5(row_json)::uuid, ${this.storedJson} FROM ${ROWS_OF_JSON_PARAMETER} ORDER BY 2
         ON CONFLICT DO NOTHING`,
        [audienceId, JSON.stringify(batch.rows)],
      );
      const counted = await client.query<{ num_received: string; num_invalid_entries: string }>(
        `UPDATE ${this.s}.replace_sessions
            SET num_received = num_received + $3, num_invalid_entries = num_invalid_entries + $4
          WHERE audience_id = $1 AND session_id = $2
          RETURNING num_received, num_invalid_entries`,
        [audienceId, batch.sessionId, batch.received, batch.invalid],
      );
      if (batch.lastBatch) await this.finishReplace(client, audienceId, 'replaced');
      const totals = counted.rows[0];
      return {
        commit: true,
        result: {
          kind: 'accepted',
          replaced: batch.lastBatch,
          totals: { numReceived: Number(totals?.num_received ?? 0), numInvalidEntries: Number(totals?.num_invalid_entries ?? 0) },
        },
      };
    });
  }

  /**
   * Ends the audience's open replace session if it has outrun `windowMs`, leaving the audience with what the
   * session received. Returns whether it did.
   */
  async settleExpiredReplace(audienceId: string, windowMs: number): Promise<boolean> {
    return this.inTransaction<boolean>(async (client) => {
      const { rowCount } = await client.query(
        `SELECT 1 FROM ${this.s}.replace_sessions
          WHERE audience_id = $1 AND finished_at IS NULL AND started_at < now() - make_interval(secs => $2 / 1000.0)
          FOR UPDATE`,
        [audienceId, windowMs],
      );
      if (!rowCount) return { commit: false, result: false };
      await this.finishReplace(client, audienceId, 'timed_out');
      return { commit: true, result: true };
    });
  }

  /** The open replace session's rows (and their schema) become the audience's, and the session ends. */
  private async finishReplace(client: PoolClient, audienceId: string, outcome: 'replaced' | 'timed_out'): Promise<void> {
    await client.query(`DELETE FROM ${this.s}.audience_rows WHERE audience_id = $1`, [audienceId]);
    await client.query(
      `INSERT INTO ${this.s}.audience_rows (audience_id, row_key, row_json)
       SELECT audience_id, row_key, row_json FROM ${this.s}.replace_rows WHERE audience_id = $1 ORDER BY row_key`,
      [audienceId],
    );
    await client.query(`DELETE FROM ${this.s}.replace_rows WHERE audience_id = $1`, [audienceId]);
    await client.query(
      `UPDATE ${this.s}.audiences
          SET row_count = (SELECT count(*) FROM ${this.s}.audience_rows WHERE audience_id = $1), content_updated_at = now(),
              upload_schema = coalesce(
                (SELECT upload_schema FROM ${this.s}.replace_sessions WHERE audience_id = $1 AND finished_at IS NULL),
                upload_schema)
        WHERE id = $1`,
      [audienceId],
    );
    await client.query(
      `UPDATE ${this.s}.replace_sessions SET finished_at = now(), outcome = $2 WHERE audience_id = $1 AND finished_at IS NULL`,
      [audienceId, outcome],
    );
  }

  /**
   * The audience's rows as JSON texts, in pages, ordered by row key: deterministic and independent of upload order.
   * One streamed query rather than keyset pages: rows sit in the heap in upload order, so walking the key index
   * costs a random read per row, while a scan and sort reads the table once.
   */
  async *readRows(id: string): AsyncGenerator<string[]> {
    const client = await this.pool.connect();
    let completed = false;
    try {
      const stream = client.query(
        new QueryStream(`SELECT row_json FROM ${this.s}.audience_rows WHERE audience_id = $1 ORDER BY row_key`, [id], {
          batchSize: ROW_PAGE_SIZE,
        }),
      );
      let page: string[] = [];
      for await (const row of stream as AsyncIterable<{ row_json: string }>) {
        page.push(row.row_json);
        if (page.length === ROW_PAGE_SIZE) {
          yield page;
          page = [];
        }
      }
      if (page.length > 0) yield page;
      completed = true;
    } finally {
      // A reader that stopped early leaves the query open on the connection, so the connection is discarded.
      client.release(completed ? undefined : new Error('row stream abandoned'));
    }
  }

  private async inTransaction<T>(work: (client: PoolClient) => Promise<{ commit: boolean; result: T }>): Promise<T> {
    const client = await this.pool.connect();
    let brokenConnection: Error | undefined;
    try {
      await client.query('BEGIN');
      const { commit, result } = await work(client);
      await client.query(commit ? 'COMMIT' : 'ROLLBACK');
      return result;
    } catch (error) {
      await client.query('ROLLBACK').catch((rollbackError: Error) => {
        brokenConnection = rollbackError;
      });
      throw error;
    } finally {
      client.release(brokenConnection);
    }
  }
}

function isBigintId(id: string): boolean {
  return /^\d{1,18}$/.test(id);
}

function toRecord(row: AudienceRow): AudienceRecord {
  return {
    id: String(row.id),
    adAccountId: row.ad_account_id,
    name: row.name,
    description: row.description,
    subtype: row.subtype,
    customerFileSource: row.customer_file_source,
    isValueBased: row.is_value_based,
    lookalike:
      row.origin_audience_id === null || row.lookalike_spec === null
        ? null
        : { originAudienceId: String(row.origin_audience_id), ratio: Number(row.lookalike_spec.ratio), country: row.lookalike_spec.country },
    uploadSchema: row.upload_schema,
    rowCount: Number(row.row_count),
    createdAt: row.created_at,
    updatedAt: row.updated_at,
    contentUpdatedAt: row.content_updated_at,
    deletedAt: row.deleted_at,
    replace:
      row.replace_session_id === null || row.replace_started_at === null
        ? null
        : { sessionId: String(row.replace_session_id), startedAt: row.replace_started_at },
  };
}
