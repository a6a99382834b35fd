import { ApplicationFailure } from '@temporalio/activity';
import { FailureType } from '../workflows/failure-types';
import type { SourceLimits } from '../db/source-session';
import { AudienceSqlRejected } from '../db/audience-sql';

/**
 * SQLSTATE classes worth retrying: the connection, the server's resources or a concurrent transaction failed,
 * not the query.
 */
const TRANSIENT_CLASSES = new Set(['08', '40', '53', '57', '58']);
/** Classes whose messages name only SQL text and identifiers, never values from the data, so we can show them. */
const DATA_FREE_CLASSES = new Set(['0A', '25', '28', '2B', '3D', '3F', '42']);
const QUERY_CANCELED = '57014';
const LOCK_NOT_AVAILABLE = '55P03';

/**
 * Classifies an error raised while checking or running an audience's source query. A problem with the query
 * itself (not one read-only SELECT, syntax, a missing table, a value that does not convert, a timeout) fails the
 * cycle without retries; an outage is rethrown so the activity retries it. Messages that could quote a member's
 * data are replaced.
 */
export function sourceQueryFailure(error: unknown, limits: SourceLimits): unknown {
  if (error instanceof ApplicationFailure) return error;
  if (error instanceof AudienceSqlRejected) return ApplicationFailure.nonRetryable(error.message, FailureType.SourceQueryFailed);
  const sqlState = (error as { code?: unknown }).code;
  if (typeof sqlState !== 'string' || !/^[0-9A-Z]{5}$/.test(sqlState)) return error;
  const sqlClass = sqlState.slice(0, 2);
  if (sqlState === QUERY_CANCELED) {
    return ApplicationFailure.nonRetryable(
      `The source query was cancelled after the statement timeout of ${limits.statementTimeout} ` +
        '(SOURCE_STATEMENT_TIMEOUT); make the query faster or raise the timeout.',
      FailureType.SourceQueryFailed,
    );
  }
  if (sqlState === LOCK_NOT_AVAILABLE) {
    return ApplicationFailure.nonRetryable(
      `The source query waited ${limits.lockTimeout} for a lock on a table it reads, which another session holds ` +
        '(a migration, VACUUM FULL, LOCK TABLE); it gave up rather than wait longer.',
      FailureType.SourceQueryFailed,
    );
  }
  if (TRANSIENT_CLASSES.has(sqlClass)) return error;
  const detail = DATA_FREE_CLASSES.has(sqlClass)
    ? (error as Error).message
    : 'PostgreSQL could not evaluate it over the current data (the message is withheld because it may quote a value)';
  return ApplicationFailure.nonRetryable(
    `The source query failed: ${detail} (SQLSTATE ${sqlState}).`,
    FailureType.SourceQueryFailed,
  );
}

/** Runs a step of the source query, classifying its failure as the query's (not ours). */
export async function fromSource<T>(step: Promise<T>, limits: SourceLimits): Promise<T> {
  try {
    return await step;
  } catch (error) {
    throw sourceQueryFailure(error, limits);
  }
}

export function missingUserIdFailure(): ApplicationFailure {
  return ApplicationFailure.nonRetryable(
    'The source query returns no user_id column; it must return one row per member with a stable user_id.',
    FailureType.SourceQueryFailed,
  );
}

export function oversizedRowFailure(limitBytes: number): ApplicationFailure {
  return ApplicationFailure.nonRetryable(
    `A row of the source query is longer than ${limitBytes / (1024 * 1024)} MB, the most one member's row may hold; ` +
      'select only the columns that carry match keys (find the row with: SELECT user_id FROM (<query>) AS s ' +
      `WHERE octet_length(s::text) > ${limitBytes}).`,
    FailureType.SourceQueryFailed,
  );
}
