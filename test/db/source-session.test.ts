import { ApplicationFailure } from '@temporalio/common';
import type { ClientBase } from 'pg';
import { checkAudienceSql } from '../../src/db/audience-sql';
import { memberRowsCopy } from '../../src/db/source-query';
import { createPool } from '../../src/db/pool';
import { createSourcePool } from '../../src/db/source-pool';
import {
  beginSourceTransaction,
  copyFromSource,
  describeSourceColumns,
  sourceLimits,
  withSourceSession,
} from '../../src/db/source-session';
import { sourceQueryFailure } from '../../src/activities/source-query-failure';
import { waitUntil } from '../../src/local/polling';
import { DATABASE_URL } from '../support/preparation-harness';

const admin = createPool(DATABASE_URL, { max: 2 });
const sourcePool = createSourcePool(DATABASE_URL, 2);
const limits = { ...sourceLimits('7s'), lockTimeout: '300ms', idleInTransactionTimeout: '2min' };
const SETTINGS = `SELECT current_setting('standard_conforming_strings'), current_setting('client_encoding'),
  current_setting('statement_timeout'), current_setting('lock_timeout'),
  current_setting('idle_in_transaction_session_timeout'), current_setting('transaction_read_only')`;
const ASSERTED = 'on\tUTF8\t7s\t300ms\t2min\ton';

afterAll(() => Promise.all([admin.end(), sourcePool.end()]));

/** The rows an audience query returns through pass 2's COPY, without the fingerprint column it adds. */
async function rows(client: ClientBase, sql: string): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const chunk of await copyFromSource(client, await checkAudienceSql(sql), memberRowsCopy(), limits)) {
    chunks.push(chunk as Buffer);
  }
  return Buffer.concat(chunks).toString('utf8').trimEnd().split('\n').map((row) => row.split('\t').slice(1).join('\t')).join('\n');
}

it('asserts its settings again before each statement, whatever the audience query set', async () => {
  await withSourceSession(sourcePool, async (client) => {
    await beginSourceTransaction(client, 'REPEATABLE READ');
    expect(await rows(client, SETTINGS)).toBe(ASSERTED);
    // An audience query can change settings for the rest of the session from inside a SELECT.
    await rows(
      client,
      `SELECT set_config('standard_conforming_strings', 'off', false), set_config('client_encoding', 'LATIN1', false),
         set_config('statement_timeout', '0', false), set_config('lock_timeout', '0', false),
         set_config('idle_in_transaction_session_timeout', '0', false)`,
    );
    expect(await rows(client, SETTINGS)).toBe(ASSERTED);
    await describeSourceColumns(client, await checkAudienceSql(`SELECT set_config('standard_conforming_strings', 'off', false)`), {
      before: 'SELECT * FROM (',
      after: ') AS s',
    }, limits);
    expect(await rows(client, SETTINGS)).toBe(ASSERTED);
  });
});

it('closes its connection afterwards rather than give it to the next audience', async () => {
  let pid = 0;
  await withSourceSession(sourcePool, async (client) => {
    pid = (await client.query<{ pid: number }>('SELECT pg_backend_pid() AS pid')).rows[0].pid;
  });
  await waitUntil(async () => (await admin.query('SELECT 1 FROM pg_stat_activity WHERE pid = $1', [pid])).rowCount === 0, 10_000);
  expect(sourcePool.totalCount).toBe(0);
});

it('gives up waiting for a lock after the lock timeout, with a sentence that says so', async () => {
  await admin.query('DROP TABLE IF EXISTS source_session_locked; CREATE TABLE source_session_locked (user_id text)');
  const holder = await admin.connect();
  try {
    await holder.query('BEGIN; LOCK TABLE source_session_locked IN ACCESS EXCLUSIVE MODE');
    const failure = await withSourceSession(sourcePool, async (client) => {
      await beginSourceTransaction(client, 'REPEATABLE READ');
      return rows(client, 'SELECT * FROM source_session_locked');
    }).then(
      () => undefined,
      (error: unknown) => sourceQueryFailure(error, limits),
    );
    expect(failure).toBeInstanceOf(ApplicationFailure);
    expect((failure as ApplicationFailure).message).toBe(
      'The source query waited 300ms for a lock on a table it reads, which another session holds ' +
        '(a migration, VACUUM FULL, LOCK TABLE); it gave up rather than wait longer.',
    );
  } finally {
    await holder.query('ROLLBACK');
    holder.release();
    await admin.query('DROP TABLE source_session_locked');
  }
});
