import type { Pool } from 'pg';
import { inTransaction, SCHEMA } from './pool';

/**
 * Builds `table` anew with `columns`, the audience's number first, carrying over each row of an audience that has a
 * record with the rest of its columns (`carried`, in order), in primary key order.
 */
function keyedByNumber(table: string, carried: string, columns: string): string {
  const rebuilt = `${SCHEMA}.${table}_by_no`;
  return `
  CREATE TABLE ${rebuilt} (${columns});
  INSERT INTO ${rebuilt}
  SELECT a.audience_no, ${carried} FROM ${SCHEMA}.${table} JOIN ${SCHEMA}.audiences a USING (audience_key) ORDER BY 1, 2, 3;
  DROP TABLE ${SCHEMA}.${table};
  ALTER TABLE ${rebuilt} RENAME TO ${table};
  ALTER INDEX ${rebuilt}_pkey RENAME TO ${table}_pkey;`;
}

/**
 * Ordered schema changes. Append only: a migration that has run somewhere must never change, because the
 * version table records it as applied.
 */
export const MIGRATIONS: readonly string[] = [
  `
  CREATE TABLE ${SCHEMA}.audiences (
    audience_key      text PRIMARY KEY,
    ad_account_id     text NOT NULL,
    name              text NOT NULL,
    fb_audience_id    text,
    -- The normalization the members' rows were built with (matching version and options).
    fingerprint_basis text,
    updated_at        timestamptz NOT NULL DEFAULT now()
  );

  -- Every current member of an audience: the fingerprint of its source row when its rows were last built, which
  -- keys it had a value for (a bit per schema position), and the hashes of its rows. A cycle reads again only
  -- the members whose fingerprint changed.
  CREATE TABLE ${SCHEMA}.audience_members (
    audience_key text    NOT NULL,
    member_id    text    NOT NULL,
    fingerprint  uuid    NOT NULL,
    keys_mask    integer NOT NULL,
    row_hashes   bytea[] NOT NULL,
    PRIMARY KEY (audience_key, member_id)
  );

  -- Every row the audience's members want or Meta holds: how many members want it, and the row in its compact
  -- form (src/matching/row-codec.ts). Written once per row; only the count changes.
  CREATE TABLE ${SCHEMA}.audience_rows (
    audience_key text    NOT NULL,
    row_hash     bytea   NOT NULL,
    wanted       integer NOT NULL,
    row_data     bytea   NOT NULL,
    PRIMARY KEY (audience_key, row_hash)
  );

  -- Where Meta differs from what the members want: rows to add (wanted, not held) and to remove (held, not
  -- wanted). An acknowledged batch deletes its rows here, so whatever an interrupted cycle left is still here.
  CREATE TABLE ${SCHEMA}.pending_rows (
    audience_key text  NOT NULL,
    operation    text  NOT NULL CHECK (operation IN ('add', 'remove')),
    row_hash     bytea NOT NULL,
    PRIMARY KEY (audience_key, operation, row_hash)
  );

  CREATE TABLE ${SCHEMA}.sync_cycles (
    cycle_id        uuid PRIMARY KEY,
    audience_key    text NOT NULL,
    fb_audience_id  text,
    started_at      timestamptz NOT NULL DEFAULT now(),
    finished_at     timestamptz,
    outcome         text NOT NULL DEFAULT 'running',
    members         integer,
    source_rows     integer,
    rebuilt_members integer,
    adds            integer,
    removes         integer,
    added           integer NOT NULL DEFAULT 0,
    removed         integer NOT NULL DEFAULT 0,
    invalid_entries integer NOT NULL DEFAULT 0,
    dropped         integer,
    drops           jsonb,
    coverage        jsonb,
    message         text
  );
  CREATE INDEX sync_cycles_by_audience ON ${SCHEMA}.sync_cycles (audience_key, started_at DESC);

  -- A cycle's upload batches, planned up front as ranges of pending rows; acknowledged_at is set in the same
  -- transaction that applies the batch to the audience's rows.
  CREATE TABLE ${SCHEMA}.cycle_batches (
    cycle_id        uuid    NOT NULL REFERENCES ${SCHEMA}.sync_cycles ON DELETE CASCADE,
    operation       text    NOT NULL CHECK (operation IN ('add', 'remove')),
    batch_no        integer NOT NULL,
    first_hash      bytea   NOT NULL,
    last_hash       bytea   NOT NULL,
    row_count       integer NOT NULL,
    invalid_entries integer NOT NULL DEFAULT 0,
    acknowledged_at timestamptz,
    PRIMARY KEY (cycle_id, operation, batch_no)
  );

  -- Shared by every worker, so that a throttled ad account slows all calls to it, not just the one that was told.
  CREATE TABLE ${SCHEMA}.ad_account_throttles (
    ad_account_id text PRIMARY KEY,
    blocked_until timestamptz NOT NULL
  );
  `,
  // Row fingerprints became 64-bit hashes. Old ones cannot be converted: every member then differs from its
  // fingerprint once, and the next cycle rebuilds the audience's members (rows at Meta are unaffected).
  `ALTER TABLE ${SCHEMA}.audience_members ALTER COLUMN fingerprint TYPE bigint USING 0`,
  // Member ids compare byte by byte: they are identifiers, not words, and a database's linguistic collation
  // (strcoll for every comparison, no abbreviated sort keys) made sorting them 1.7 times and loading them 1.4 times
  // as slow.
  `ALTER TABLE ${SCHEMA}.audience_members ALTER COLUMN member_id TYPE text COLLATE "C"`,
  // Replacing the whole audience at Meta (usersreplace), and telling when our records of an audience were lost.
  `
  -- Counts the plans committed for the audience. The workflow remembers the last one it saw: a smaller number
  -- here (a restored backup) or no record at all (a wiped schema) means Meta may hold rows we no longer know of.
  ALTER TABLE ${SCHEMA}.audiences ADD COLUMN generation bigint NOT NULL DEFAULT 0;
  -- Why the audience's next cycle that uploads must replace its membership at Meta; cleared when a replace ends.
  ALTER TABLE ${SCHEMA}.audiences ADD COLUMN replace_due text;

  ALTER TABLE ${SCHEMA}.sync_cycles ADD COLUMN replace_reason text;
  ALTER TABLE ${SCHEMA}.sync_cycles ADD COLUMN replaced integer NOT NULL DEFAULT 0;
  -- The usersreplace session in use and when its first batch was sent: Meta closes a session 90 minutes later.
  ALTER TABLE ${SCHEMA}.sync_cycles ADD COLUMN replace_session_id bigint;
  ALTER TABLE ${SCHEMA}.sync_cycles ADD COLUMN replace_session_started_at timestamptz;

  -- A replace cycle's batches cut every wanted row (not the pending ones) into ranges of row hashes.
  ALTER TABLE ${SCHEMA}.cycle_batches DROP CONSTRAINT cycle_batches_operation_check,
    ADD CONSTRAINT cycle_batches_operation_check CHECK (operation IN ('add', 'remove', 'replace'));
  `,
  // The upload schema of the rows in our tables (the match keys, and the LDU columns when the audience applies
  // LDU): uploads use it, and a cycle whose schema differs replaces, since Meta takes no other schema in /users.
  `ALTER TABLE ${SCHEMA}.audiences ADD COLUMN upload_schema text[]`,
  // How many usersreplace sessions a cycle started (a second one that runs out of time ends early rather than
  // start over), and whether Meta would not replace the audience at all (1870144).
  `
  ALTER TABLE ${SCHEMA}.sync_cycles ADD COLUMN replace_sessions integer NOT NULL DEFAULT 0;
  ALTER TABLE ${SCHEMA}.sync_cycles ADD COLUMN replace_given_up boolean NOT NULL DEFAULT false;
  `,
  // A first load lists no pending additions: writing a pending row for each of its rows, and deleting it again as
  // its batch was acknowledged, cost a fifth of the load and left its size in dead tuples. While this names the
  // load's cycle, every stored row of the audience outside that cycle's acknowledged add batches is pending
  // addition; the next cycle lists those rows in pending_rows and clears it (see unsent-load).
  `ALTER TABLE ${SCHEMA}.audiences ADD COLUMN unsent_load uuid`,
  // The member tables name their audience by a number (see audience-number.ts) instead of by its key, which was
  // repeated in each of their rows and index entries. Each table is built anew: a dropped column's bytes would
  // stay in every row already stored. Rows of an audience without a record, which no statement could reach once
  // keyed by number, are not carried over.
  `
  ALTER TABLE ${SCHEMA}.audiences ADD COLUMN audience_no integer GENERATED ALWAYS AS IDENTITY,
    ADD CONSTRAINT audiences_audience_no_key UNIQUE (audience_no);
  ${keyedByNumber('audience_members', 'member_id, fingerprint, keys_mask, row_hashes', `
    audience_no  integer NOT NULL,
    member_id    text    COLLATE "C" NOT NULL,
    fingerprint  bigint  NOT NULL,
    keys_mask    integer NOT NULL,
    row_hashes   bytea[] NOT NULL,
    PRIMARY KEY (audience_no, member_id)`)}
  ${keyedByNumber('audience_rows', 'row_hash, wanted, row_data', `
    audience_no integer NOT NULL,
    row_hash    bytea   NOT NULL,
    wanted      integer NOT NULL,
    row_data    bytea   NOT NULL,
    PRIMARY KEY (audience_no, row_hash)`)}
  ${keyedByNumber('pending_rows', 'operation, row_hash', `
    audience_no integer NOT NULL,
    operation   text    NOT NULL CONSTRAINT pending_rows_operation_check CHECK (operation IN ('add', 'remove')),
    row_hash    bytea   NOT NULL,
    PRIMARY KEY (audience_no, operation, row_hash)`)}
  `,
  // Deleting an audience's record deletes what the member tables hold under its number, which nothing could reach
  // any more: a claim that finds the record missing gives the audience a new number. A foreign key would do the
  // same, at the cost of a lookup of the record for each of a first load's ten million rows.
  `
  CREATE FUNCTION ${SCHEMA}.forget_audience_members() RETURNS trigger LANGUAGE plpgsql AS $$
  BEGIN
    DELETE FROM ${SCHEMA}.audience_members WHERE audience_no = OLD.audience_no;
    DELETE FROM ${SCHEMA}.audience_rows WHERE audience_no = OLD.audience_no;
    DELETE FROM ${SCHEMA}.pending_rows WHERE audience_no = OLD.audience_no;
    RETURN OLD;
  END $$;
  CREATE TRIGGER audiences_forget_members AFTER DELETE ON ${SCHEMA}.audiences
    FOR EACH ROW EXECUTE FUNCTION ${SCHEMA}.forget_audience_members();
  `,
  // A member's row hashes as one byte string, 32 bytes each, instead of an array of them: the array's header and
  // a length for each hash were some 24 of a member's 121 bytes. Each member keeps its hashes in their order.
  `
  CREATE FUNCTION pg_temp.concatenated(hashes bytea[]) RETURNS bytea LANGUAGE sql IMMUTABLE AS $$
    SELECT coalesce(string_agg(h, ''::bytea ORDER BY n), ''::bytea) FROM unnest(hashes) WITH ORDINALITY AS u(h, n)
  $$;
  ALTER TABLE ${SCHEMA}.audience_members ALTER COLUMN row_hashes TYPE bytea USING pg_temp.concatenated(row_hashes);
  DROP FUNCTION pg_temp.concatenated(bytea[]);
  `,
  // The preparation attempt that last claimed the audience (see preparation-attempt): an attempt that outlived its
  // timeout must stop writing the cycle's tables and the audience's members, and not plan, once a later one has.
  `ALTER TABLE ${SCHEMA}.audiences ADD COLUMN load_attempt uuid`,
];

/**
 * Brings our schema up to date. Safe to call from every process at start-up: an advisory lock serialises
 * concurrent callers and applied migrations are skipped.
 */
export async function migrate(pool: Pool): Promise<void> {
  await inTransaction(pool, async (client) => {
    await client.query(`SELECT pg_advisory_xact_lock(hashtext('${SCHEMA}.migrations'))`);
    await client.query(`CREATE SCHEMA IF NOT EXISTS ${SCHEMA}`);
    await client.query(`CREATE TABLE IF NOT EXISTS ${SCHEMA}.schema_migrations (version integer PRIMARY KEY)`);
    const { rows } = await client.query<{ version: number }>(
      `SELECT coalesce(max(version), 0) AS version FROM ${SCHEMA}.schema_migrations`,
    );
    for (let version = rows[0].version + 1; version <= MIGRATIONS.length; version++) {
      await client.query(MIGRATIONS[version - 1]);
      await client.query(`INSERT INTO ${SCHEMA}.schema_migrations (version) VALUES ($1)`, [version]);
    }
  });
}
