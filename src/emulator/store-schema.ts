import type { Pool } from 'pg';

const SCHEMA_NAME = /^[a-z_][a-z0-9_]{0,62}$/;

export const DEFAULT_EMULATOR_SCHEMA = 'graph_emulator';

/** The schema name goes into SQL text, so only plain lowercase identifiers are accepted. */
export function quotedSchemaName(schema: string): string {
  if (!SCHEMA_NAME.test(schema)) {
    throw new RangeError(`Emulator schema must be a lowercase SQL identifier, got "${schema}"`);
  }
  return `"${schema}"`;
}

/**
 * The emulator's state, created idempotently on start so a restarted emulator finds what it held.
 * Rows are stored once per audience, keyed by the md5 of their canonical JSON text, which gives Meta's set
 * semantics (adding a held row or removing a missing one changes nothing) with set-based SQL.
 * Audience ids come from a sequence that a reset does not rewind, so an id is never reused.
 * The rows table is UNLOGGED: it survives a clean restart of PostgreSQL but not a crash of it, and writing a
 * million uploaded rows without WAL keeps Meta's side from weighing on benchmarks that share the machine. A
 * replace session's rows wait in replace_rows until the session ends, when they become the audience's rows; at
 * most one replace session of an audience is open.
 */
export async function createStoreSchema(pool: Pool, schema: string): Promise<void> {
  const s = quotedSchemaName(schema);
  // Emulators starting at once on one schema would race on CREATE ... IF NOT EXISTS; a lock serialises them.
  const client = await pool.connect();
  try {
    await client.query('BEGIN');
    await client.query('SELECT pg_advisory_xact_lock(hashtext($1))', [`graph-emulator:${schema}`]);
    await client.query(`
      CREATE SCHEMA IF NOT EXISTS ${s};
      CREATE SEQUENCE IF NOT EXISTS ${s}.audience_id_seq START WITH 23850000000000001;
      CREATE TABLE IF NOT EXISTS ${s}.audiences (
        id bigint PRIMARY KEY DEFAULT nextval('${s}.audience_id_seq'),
        ad_account_id text NOT NULL,
        name text NOT NULL,
        description text NOT NULL DEFAULT '',
        subtype text NOT NULL,
        customer_file_source text NOT NULL,
        upload_schema text[],
        row_count bigint NOT NULL DEFAULT 0,
        created_at timestamptz NOT NULL DEFAULT now(),
        updated_at timestamptz NOT NULL DEFAULT now(),
        content_updated_at timestamptz,
        deleted_at timestamptz
      );
      CREATE INDEX IF NOT EXISTS audiences_by_account ON ${s}.audiences (ad_account_id, id) WHERE deleted_at IS NULL;
      -- Value-based customer lists, and lookalikes built from a seed (reference §6).
      ALTER TABLE ${s}.audiences ADD COLUMN IF NOT EXISTS is_value_based boolean NOT NULL DEFAULT false;
      ALTER TABLE ${s}.audiences ADD COLUMN IF NOT EXISTS origin_audience_id bigint;
      ALTER TABLE ${s}.audiences ADD COLUMN IF NOT EXISTS lookalike_spec jsonb;
      CREATE UNLOGGED TABLE IF NOT EXISTS ${s}.audience_rows (
        audience_id bigint NOT NULL,
        row_key uuid NOT NULL,
        row_json text NOT NULL,
        PRIMARY KEY (audience_id, row_key)
      );
      -- An emulator started with rowKeysOnly stores no row's text.
      ALTER TABLE ${s}.audience_rows ALTER COLUMN row_json DROP NOT NULL;
      CREATE TABLE IF NOT EXISTS ${s}.upload_sessions (
        audience_id bigint NOT NULL,
        session_id bigint NOT NULL,
        num_received bigint NOT NULL,
        num_invalid_entries bigint NOT NULL,
        last_batch_seq integer,
        last_batch_received boolean NOT NULL DEFAULT false,
        started_at timestamptz NOT NULL DEFAULT now(),
        PRIMARY KEY (audience_id, session_id)
      );
      CREATE TABLE IF NOT EXISTS ${s}.replace_sessions (
        audience_id bigint NOT NULL,
        session_id bigint NOT NULL,
        started_at timestamptz NOT NULL DEFAULT now(),
        num_received bigint NOT NULL DEFAULT 0,
        num_invalid_entries bigint NOT NULL DEFAULT 0,
        finished_at timestamptz,
        outcome text CHECK (outcome IN ('replaced', 'timed_out')),
        PRIMARY KEY (audience_id, session_id)
      );
      -- The schema of the session's first batch, which becomes the audience's when the session ends.
      ALTER TABLE ${s}.replace_sessions ADD COLUMN IF NOT EXISTS upload_schema text[];
      CREATE UNIQUE INDEX IF NOT EXISTS one_open_replace ON ${s}.replace_sessions (audience_id) WHERE finished_at IS NULL;
      CREATE UNLOGGED TABLE IF NOT EXISTS ${s}.replace_rows (
        audience_id bigint NOT NULL,
        row_key uuid NOT NULL,
        row_json text NOT NULL,
        PRIMARY KEY (audience_id, row_key)
      );
      ALTER TABLE ${s}.replace_rows ALTER COLUMN row_json DROP NOT NULL;
      CREATE TABLE IF NOT EXISTS ${s}.revoked_tokens (
        token_sha256 text PRIMARY KEY
      );
      CREATE TABLE IF NOT EXISTS ${s}.ad_account_terms (
        ad_account_id text PRIMARY KEY,
        custom_audience_terms_accepted boolean NOT NULL
      );
    `);
    await client.query('COMMIT');
  } catch (error) {
    await client.query('ROLLBACK');
    throw error;
  } finally {
    client.release();
  }
}

export async function wipeStore(pool: Pool, schema: string): Promise<void> {
  const s = quotedSchemaName(schema);
  await pool.query(
    `TRUNCATE ${s}.audiences, ${s}.audience_rows, ${s}.upload_sessions, ${s}.replace_sessions, ${s}.replace_rows,
       ${s}.revoked_tokens, ${s}.ad_account_terms`,
  );
}
