import { createPool, SCHEMA } from '../../src/db/pool';
import { migrate } from '../../src/db/migrations';
import { inspectSourceRole, privilegedRoleSentence, type SourceRole } from '../../src/db/source-role';
import { DATABASE_URL } from '../support/preparation-harness';

/** inspectSourceRole on the real database, for roles made here and dropped after. */
const pool = createPool(DATABASE_URL, { max: 1 });
const ROLES = [
  'as_test_plain',
  'as_test_programs',
  'as_test_state_reader',
  'as_test_super',
  'as_test_can_become_super',
  'as_test_replication',
  'as_test_file_reader',
];

beforeAll(async () => {
  await migrate(pool);
  await dropRoles();
  for (const role of ROLES) await pool.query(`CREATE ROLE ${role} NOLOGIN`);
  await pool.query('GRANT pg_execute_server_program, pg_read_server_files TO as_test_programs');
  await pool.query(`GRANT USAGE ON SCHEMA ${SCHEMA} TO as_test_state_reader`);
  await pool.query(`GRANT SELECT (audience_key) ON ${SCHEMA}.audiences TO as_test_state_reader`);
  await pool.query('ALTER ROLE as_test_super SUPERUSER');
  // A membership that is not inherited still lets a query SET ROLE to the superuser (set_config('role', …)).
  await pool.query('GRANT as_test_super TO as_test_can_become_super');
  await pool.query('ALTER ROLE as_test_can_become_super NOINHERIT');
  await pool.query('ALTER ROLE as_test_replication REPLICATION');
  await pool.query('GRANT EXECUTE ON FUNCTION pg_read_file(text) TO as_test_file_reader');
});

afterAll(async () => {
  await dropRoles();
  await pool.end();
});

async function dropRoles(): Promise<void> {
  for (const role of ROLES) {
    await pool.query(`DO $$ BEGIN IF EXISTS (SELECT 1 FROM pg_roles WHERE rolname = '${role}') THEN
      EXECUTE 'DROP OWNED BY ${role}'; EXECUTE 'DROP ROLE ${role}'; END IF; END $$`);
  }
}

/** Inspects a session that logged in as `login` (SET SESSION AUTHORIZATION) and then, if given, SET ROLE `actingAs`. */
async function inspectAs(login: string, actingAs?: string): Promise<SourceRole> {
  const client = await pool.connect();
  try {
    await client.query(`SET SESSION AUTHORIZATION ${login}`);
    if (actingAs) await client.query(`SET ROLE ${actingAs}`);
    return await inspectSourceRole(client);
  } finally {
    await client.query('RESET ROLE; RESET SESSION AUTHORIZATION');
    client.release();
  }
}

it.each([
  ['a role with no privileges', 'as_test_plain', []],
  ['a member of the roles that run programs and read files', 'as_test_programs',
    ['can run programs on the database server (pg_execute_server_program)', 'can read files on the database server (pg_read_server_files)']],
  ["a role that can read one column of audience-sync's state", 'as_test_state_reader',
    ["can read audience-sync's own tables (schema audience_sync)"]],
  ['a superuser', 'as_test_super', ['is a superuser']],
  ['a role that can become a superuser', 'as_test_can_become_super', ['can become the superuser as_test_super']],
  ['a role with REPLICATION', 'as_test_replication',
    ["can create replication slots, which hold the server's WAL (REPLICATION of as_test_replication)"]],
  ['a role granted pg_read_file', 'as_test_file_reader', ['can read files on the database server (EXECUTE on pg_read_file)']],
])('%s', async (_case, role, excess) => {
  const found = await inspectAs(role);
  expect(found.name).toBe(role);
  expect([...found.excess].sort()).toEqual([...excess].sort());
});

it('a superuser login acting as a plain role is a superuser: a query can SET ROLE back', async () => {
  expect(await inspectAs('postgres', 'as_test_plain')).toEqual({ name: 'postgres (acting as as_test_plain)', excess: ['is a superuser'] });
});

it('a plain login acting as a role it may become answers for both', async () => {
  await pool.query('GRANT as_test_programs TO as_test_plain');
  try {
    expect(await inspectAs('as_test_plain', 'as_test_programs')).toEqual({
      name: 'as_test_plain (acting as as_test_programs)',
      excess: ['can run programs on the database server (pg_execute_server_program)', 'can read files on the database server (pg_read_server_files)'],
    });
  } finally {
    await pool.query('REVOKE as_test_programs FROM as_test_plain');
  }
});

it('says in one sentence which role, what it can do, and where the fix is', () => {
  expect(privilegedRoleSentence({ name: 'postgres', excess: ['is a superuser', 'can run programs on the database server (pg_execute_server_program)'] })).toBe(
    'Audience queries run as the role postgres, which is a superuser and can run programs on the database server ' +
      '(pg_execute_server_program): point SOURCE_DATABASE_URL at a role that can only read the audience tables ' +
      '(the README\'s "Security" section shows how).',
  );
});
