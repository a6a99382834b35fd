import { ApplicationFailure } from '@temporalio/activity';
import { FailureType } from '../workflows/failure-types';

/**
 * SQLSTATE classes worth retrying: the connection, the server's resources or a concurrent transaction failed,
 * not the query.
 */
const TRANSIENT_CLASSES = new Set(['08', '40', '53', '57', '58']);
/** Classes whose messages name only SQL text and identifiers, never values from the data, so we can show them. */
const DATA_FREE_CLASSES = new Set(['0A', '25', '28', '2B', '3D', '3F', '42']);
const QUERY_CANCELED = '57014';

/**
 * Classifies an error raised while running an audience's source query. A problem with the query itself (syntax,
 * missing table, a value that does not convert, the statement timeout) fails the cycle without retries; an
 * outage is rethrown so the activity retries it. Messages that could quote a member's data are replaced.
 */
export function sourceQueryFailure(error: unknown, statementTimeout: string): unknown {
  if (error instanceof ApplicationFailure) return error;
  const sqlState = (error as { code?: unknown }).code;
  if (typeof sqlState !== 'string' || !/^[0-9A-Z]{5}$/.test(sqlState)) return error;
  const sqlClass = sqlState.slice(0, 2);
  if (sqlState === QUERY_CANCELED) {
    return ApplicationFailure.nonRetryable(
      `The source query was cancelled after the statement timeout of ${statementTimeout} ` +
        '(SOURCE_STATEMENT_TIMEOUT); make the query faster or raise the timeout.',
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

export function missingUserIdFailure(): ApplicationFailure {
  return ApplicationFailure.nonRetryable(
    'The source query returns no user_id column; it must return one row per member with a stable user_id.',
    FailureType.SourceQueryFailed,
  );
}
