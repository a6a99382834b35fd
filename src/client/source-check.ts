import { Client } from 'pg';
import type { Environment } from '../config/environment';
import { AudienceSqlRejected, checkAudienceSql, type AudienceSql } from '../db/audience-sql';
import { FINGERPRINT_COLUMN, MEMBER_COLUMNS } from '../db/source-query';
import { beginSourceTransaction, describeSourceColumns, sourceLimits } from '../db/source-session';
import { inspectSourceRole, privilegedRoleSentence, privilegedRoleWarning } from '../db/source-role';
import { UserFacingError } from './audience-client';

/** PostgreSQL's parser's verdict on the audience's SQL, which `connect` asks for before anything else. */
export async function parseSourceQuery(sourceSql: string): Promise<AudienceSql> {
  try {
    return await checkAudienceSql(sourceSql);
  } catch (error) {
    if (error instanceof AudienceSqlRejected) throw new UserFacingError(error.message);
    throw error;
  }
}

/**
 * Plans the source query without reading a row (LIMIT 0, read-only, in the extended protocol) as the worker's
 * source role would run it, so that `connect` rejects a query that cannot run or lacks a user_id column before any
 * workflow exists. A role that may not run audience queries does not run this one either.
 */
export function tryQueryOnSource(environment: Environment, query: AudienceSql): Promise<string[]> {
  return asSourceRole(environment, 'check', async (client) => {
    try {
      await beginSourceTransaction(client, 'READ COMMITTED');
      const described = await describeSourceColumns(client, query, MEMBER_COLUMNS, CHECK_LIMITS);
      const columns = described.map((column) => column.name).filter((name) => name !== FINGERPRINT_COLUMN);
      if (!columns.includes('user_id')) {
        throw new UserFacingError(
          `The source query returns no user_id column (it returns: ${columns.join(', ') || 'nothing'}); ` +
            'it must return one row per member with a stable user_id.',
        );
      }
      return columns;
    } catch (error) {
      if (error instanceof UserFacingError) throw error;
      throw new UserFacingError(`The source query does not run: ${(error as Error).message}`);
    }
  });
}

const CHECK_LIMITS = sourceLimits('30s');

/** Why the CLI goes to the source: to check the query (connect) or to preview what it yields. */
type SourceVisit = 'check' | 'preview';

const VISITS: Record<SourceVisit, { applicationName: string; orElse: string }> = {
  check: { applicationName: 'audience-sync connect', orElse: ', or pass --no-check' },
  preview: { applicationName: 'audience-sync preview', orElse: '' },
};

/**
 * Runs `work` on a new connection to the source database (SOURCE_DATABASE_URL, else DATABASE_URL) once its role
 * is found fit to run audience queries, as the worker checks it, and closes the connection afterwards. A
 * privileged role is refused unless SOURCE_ALLOW_PRIVILEGED_ROLE is set; `work` then gets the warning `status`
 * would show.
 */
export async function asSourceRole<T>(
  environment: Environment,
  visit: SourceVisit,
  work: (client: Client, privilegedWarning: string | undefined) => Promise<T>,
): Promise<T> {
  const { applicationName, orElse } = VISITS[visit];
  const client = new Client({
    connectionString: environment.SOURCE_DATABASE_URL ?? environment.DATABASE_URL,
    application_name: applicationName,
  });
  try {
    await client.connect();
  } catch (error) {
    throw new UserFacingError(
      `Cannot reach the source database to ${visit} the query (${(error as Error).message}); ` +
        `set SOURCE_DATABASE_URL or DATABASE_URL${orElse}.`,
    );
  }
  try {
    const role = await inspectSourceRole(client);
    if (role.excess.length > 0 && !environment.SOURCE_ALLOW_PRIVILEGED_ROLE) {
      throw new UserFacingError(`The query was not tried: ${privilegedRoleSentence(role)}`);
    }
    return await work(client, role.excess.length > 0 ? privilegedRoleWarning(role) : undefined);
  } finally {
    await client.end().catch(() => undefined);
  }
}
