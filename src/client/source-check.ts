import { Client } from 'pg';
import { sourceQueryText } from '../db/source-query';
import { UserFacingError } from './audience-client';

/**
 * Plans the source query without reading a row (LIMIT 0, read-only) so that `connect` rejects a query that
 * cannot run or lacks a user_id column before any workflow exists.
 */
export async function checkSourceQuery(connectionString: string, sourceSql: string): Promise<string[]> {
  const client = new Client({ connectionString, application_name: 'audience-sync connect' });
  try {
    await client.connect();
  } catch (error) {
    throw new UserFacingError(
      `Cannot reach the source database to check the query (${(error as Error).message}); ` +
        'set SOURCE_DATABASE_URL or DATABASE_URL, or pass --no-check.',
    );
  }
  try {
    await client.query('BEGIN TRANSACTION READ ONLY');
    await client.query(`SET LOCAL statement_timeout = '30s'`);
    const result = await client.query(`${sourceQueryText(sourceSql)} LIMIT 0`);
    const columns = result.fields.map((field) => field.name);
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
