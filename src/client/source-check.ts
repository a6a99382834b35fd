import { Client } from 'pg';
import type { Environment } from '../config/environment';
import { AudienceSqlRejected, checkAudienceSql, type AudienceSql } from '../db/audience-sql';
import { FINGERPRINT_COLUMN, MEMBER_COLUMNS } from '../db/source-query';
import { beginSourceTransaction, describeSourceColumns, sourceLimits } from '../db/source-session';
import { inspectSourceRole, privilegedRoleSentence } from '../db/source-role';
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
export async function tryQueryOnSource(environment: Environment, query: AudienceSql): Promise<string[]> {
  const client = new Client({
    connectionString: environment.SOURCE_DATABASE_URL ?? environment.DATABASE_URL,
    application_name: 'audience-sync connect',
  });
  try {
    await client.connect();
  } catch (error) {
    throw new UserFacingError(
      `Cannot reach the source database to check the query (${(error as Error).message}); ` +
        'set SOURCE_DATABASE_URL or DATABASE_URL, or pass --no-check.',
    );
  }
  try {
    const role = await inspectSourceRole(client);
    if (role.excess.length > 0 && !environment.SOURCE_ALLOW_PRIVILEGED_ROLE) {
      throw new UserFacingError(`The query was not tried: ${privilegedRoleSentence(role)}`);
    }
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
  } finally {
    await client.end().catch(() => undefined);
  }
}

const CHECK_LIMITS = sourceLimits('30s');
