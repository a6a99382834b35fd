import type { ClientBase, Pool, PoolClient, QueryConfig } from 'pg';
import { wrapAudienceSql, type AudienceSql } from './audience-sql';
import { CopyOutStream } from './copy-out';
import type { SourceColumn } from './copy-text';
import { withClient } from './pool';
import type { WrappedStatement } from './source-query';

/*
 * How an audience's SQL is run: in a read-only transaction, only inside statements of ours that wrapAudienceSql
 * checked, each in the extended query protocol (in which PostgreSQL refuses a second statement), right after the
 * transaction's settings are asserted again. The audience's SELECT can call set_config, so a setting it changed
 * must not reach the next statement: not the timeouts, and not the two settings that decide how the next
 * statement's text is read, which the parser check assumed (client_encoding UTF8, standard_conforming_strings on).
 */

/** The timeouts of a source transaction. */
export interface SourceLimits {
  /** PostgreSQL duration after which one statement is cancelled (SOURCE_STATEMENT_TIMEOUT). */
  statementTimeout: string;
  /** How long a statement may wait for a lock: a source SELECT waits only behind DDL or VACUUM FULL. */
  lockTimeout: string;
  /**
   * How long the transaction may sit idle: longer than audience-sync's own work between two statements of a
   * cycle, short enough that a worker that vanished does not hold a snapshot on the source for long.
   */
  idleInTransactionTimeout: string;
}

/** SOURCE_STATEMENT_TIMEOUT's, with a lock timeout of a minute and an idle timeout of ten. */
export function sourceLimits(statementTimeout: string): SourceLimits {
  return { statementTimeout, lockTimeout: '1min', idleInTransactionTimeout: '10min' };
}

/**
 * Runs `work` on a source connection that is closed afterwards rather than reused: an audience's query can change
 * its session (set_config(…, false), advisory locks), and nothing of that may reach the next audience's.
 */
export function withSourceSession<T>(pool: Pool, work: (client: PoolClient) => Promise<T>): Promise<T> {
  return withClient(pool, work, { discard: true });
}

/** Read-only from the start; the settings come with each statement (assertSourceSettings). */
export async function beginSourceTransaction(client: ClientBase, isolation: 'REPEATABLE READ' | 'READ COMMITTED'): Promise<void> {
  await client.query(`BEGIN TRANSACTION ISOLATION LEVEL ${isolation} READ ONLY`);
}

/**
 * The columns of one of our statements around the audience's query, from running it in the extended protocol
 * (the statement says `LIMIT 0`, so no row is read).
 */
export async function describeSourceColumns(
  client: ClientBase,
  query: AudienceSql,
  wrapper: WrappedStatement,
  limits: SourceLimits,
): Promise<SourceColumn[]> {
  const text = wrapAudienceSql(query, wrapper);
  await assertSourceSettings(client, limits);
  const extended: QueryConfig & { queryMode: 'extended' } = { text, queryMode: 'extended' };
  const result = await client.query(extended);
  return result.fields.map((field) => ({ name: field.name, typeOid: field.dataTypeID }));
}

/** One of our `COPY … TO STDOUT` statements around the audience's query, as a stream of COPY text. */
export async function copyFromSource(
  client: ClientBase,
  query: AudienceSql,
  wrapper: WrappedStatement,
  limits: SourceLimits,
): Promise<CopyOutStream> {
  const text = wrapAudienceSql(query, wrapper);
  await assertSourceSettings(client, limits);
  return client.query(new CopyOutStream(text));
}

/** Sets the transaction's settings again: before each statement, and wherever the source waits on us. */
export async function assertSourceSettings(client: ClientBase, limits: SourceLimits): Promise<void> {
  // set_config(…, true) is SET LOCAL with the values as parameters: nothing of them is read as SQL.
  await client.query(
    `SELECT pg_catalog.set_config('client_encoding', 'UTF8', true),
            pg_catalog.set_config('standard_conforming_strings', 'on', true),
            pg_catalog.set_config('statement_timeout', $1, true),
            pg_catalog.set_config('lock_timeout', $2, true),
            pg_catalog.set_config('idle_in_transaction_session_timeout', $3, true)`,
    [limits.statementTimeout, limits.lockTimeout, limits.idleInTransactionTimeout],
  );
}
