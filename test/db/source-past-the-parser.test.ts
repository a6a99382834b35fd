import { randomBytes } from 'node:crypto';
import { existsSync } from 'node:fs';
import type { AudienceSql } from '../../src/db/audience-sql';
import type { WrappedStatement } from '../../src/db/source-query';
import { FailureType } from '../../src/workflows/failure-types';
import { failureOf, PreparationHarness } from '../support/preparation-harness';

/**
 * The parser check is the first guard, not the only one: with it switched off (here, and only here), text that
 * holds several statements goes straight to the source, as a superuser even, and still nothing but one statement
 * runs, the cycle fails with a sentence, the process lives on and the next cycle runs.
 */
jest.mock('../../src/db/audience-sql', () => {
  const actual = jest.requireActual('../../src/db/audience-sql');
  return {
    ...actual,
    checkAudienceSql: async (sql: string): Promise<AudienceSql> => ({ statement: sql, tree: '' }),
    wrapAudienceSql: (query: AudienceSql, wrapper: WrappedStatement) =>
      `${wrapper.before}${query.statement}\n${wrapper.sentAfter ?? wrapper.after}`,
  };
});

const harness = new PreparationHarness();
const suffix = randomBytes(4).toString('hex');
const MARKER_FILE = `/tmp/audience-sync-past-parser-${suffix}`;
const MARKER_TABLE = `past_parser_marker_${suffix}`;
const MEMBERS = `SELECT 'u' || g AS user_id, 'm' || g || '@example.com' AS email FROM generate_series(1, 150) AS g`;

beforeAll(() => harness.start());

afterAll(async () => {
  try {
    expect(existsSync(MARKER_FILE)).toBe(false);
    expect((await harness.pool.query('SELECT to_regclass($1) AS t', [MARKER_TABLE])).rows).toEqual([{ t: null }]);
  } finally {
    await harness.pool.query(`DROP TABLE IF EXISTS ${MARKER_TABLE}`);
    await harness.stop();
  }
});

it('a first cycle: the column lookup carries a breakout, and the server refuses the second statement', async () => {
  const { prepare } = harness.source({ allowPrivileged: true });
  const breakout = `${MEMBERS}) AS s LIMIT 0; COPY (SELECT 1) TO PROGRAM 'touch ${MARKER_FILE}'; SELECT * FROM (${MEMBERS}`;
  const failure = await failureOf(prepare(breakout));
  expect(failure.type).toBe(FailureType.SourceQueryFailed);
  expect(failure.message).toBe(
    'The source query failed: cannot insert multiple commands into a prepared statement (SQLSTATE 42601).',
  );
  expect((await prepare(MEMBERS)).plan).toMatchObject({ decision: 'upload', members: 150 });
});

it("a later cycle: pass 1's COPY carries a breakout, and the server refuses it too", async () => {
  const { prepare } = harness.source({ allowPrivileged: true });
  const first = await prepare(MEMBERS);
  const breakout =
    `${MEMBERS}) AS s WHERE s.user_id IS NOT NULL) TO STDOUT; CREATE TABLE ${MARKER_TABLE} (x int); ` +
    `COPY (SELECT (s.user_id)::text, 1 FROM (${MEMBERS}`;
  const failure = await failureOf(prepare(breakout, first.audienceKey));
  expect(failure.message).toBe(
    'The source query failed: cannot insert multiple commands into a prepared statement (SQLSTATE 42601).',
  );
  expect((await prepare(MEMBERS, first.audienceKey)).plan).toMatchObject({ members: 150, rebuiltMembers: 0 });
});
