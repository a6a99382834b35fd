import type { Pool } from 'pg';
import { ensureReaderRole, type ReaderGrants } from '../../src/local/source-reader-role';

/** The role tests run audience queries as: it reads what the test grants it, and none of our state. */
export const TEST_READER_ROLE = 'audience_sync_test_reader';

export function testReaderUrl(admin: Pool, adminUrl: string, grants: ReaderGrants): Promise<string> {
  return ensureReaderRole(admin, adminUrl, TEST_READER_ROLE, 'audience-sync-test-reader', grants);
}
