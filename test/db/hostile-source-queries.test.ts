import { randomBytes } from 'node:crypto';
import { existsSync } from 'node:fs';
import { FailureType } from '../../src/workflows/failure-types';
import { DATABASE_URL, failureOf, PreparationHarness } from '../support/preparation-harness';
import { testReaderUrl } from '../support/source-reader';

jest.setTimeout(60_000);

/**
 * Audience queries written to do more than read, each run by prepareCycle against the real database: every one
 * ends in a clear error, and nothing of it runs beyond a read.
 */
const harness = new PreparationHarness();
const suffix = randomBytes(4).toString('hex');
const CANARY = `hostile_canary_${suffix}`;
const MARKER_TABLE = `hostile_marker_${suffix}`;
const MARKER_FILE = `/tmp/audience-sync-hostile-${suffix}`;
const CANARY_QUERY = `SELECT user_id, email FROM ${CANARY}`;
let readerUrl: string;

beforeAll(async () => {
  await harness.start();
  await harness.pool.query(`CREATE TABLE ${CANARY} AS
    SELECT 'c' || g AS user_id, 'canary' || g || '@example.com' AS email FROM generate_series(1, 150) AS g`);
  readerUrl = await testReaderUrl(harness.pool, DATABASE_URL, { tables: [CANARY] });
});

afterAll(async () => {
  try {
    expect(existsSync(MARKER_FILE)).toBe(false);
    const { rows } = await harness.pool.query(
      `SELECT to_regclass($1) AS marker, (SELECT count(*)::int FROM ${CANARY}) AS canaries`,
      [MARKER_TABLE],
    );
    expect(rows[0]).toEqual({ marker: null, canaries: 150 });
  } finally {
    await harness.pool.query(`DROP TABLE IF EXISTS ${CANARY}, ${MARKER_TABLE}`);
    await harness.stop();
  }
});

describe("refused by PostgreSQL's parser before any database sees it, even where the source role is a superuser", () => {
  const touch = `COPY (SELECT 1) TO PROGRAM 'touch ${MARKER_FILE}'`;
  it.each([
    ['COPY … TO PROGRAM', touch, 'it is a COPY statement'],
    ['a breakout that closes the LIMIT 0 lookup',
      `SELECT 'u1'::text AS user_id, 'a@b.co' AS email) AS s LIMIT 0; ${touch}; SELECT * FROM (SELECT 'u1'::text AS user_id, 'a@b.co' AS email`,
      'it does not parse'],
    ['a breakout shaped for the fingerprint COPY',
      `SELECT user_id FROM ${CANARY}) AS s WHERE s.user_id IS NOT NULL) TO STDOUT; ${touch}; COPY (SELECT (s.user_id)::text, 1 FROM (SELECT user_id FROM ${CANARY}`,
      'it does not parse'],
    ['a breakout behind a block comment', `SELECT 1 AS user_id /* ) AS s; */ ) AS s; CREATE TABLE ${MARKER_TABLE} (x int); --`, 'it does not parse'],
    ['a breakout after a dollar quote', `SELECT $q$ ) AS s; $q$ AS user_id) AS s; CREATE TABLE ${MARKER_TABLE} (x int); SELECT (1`, 'it does not parse'],
    ['a breakout through nested parentheses', `SELECT 1 AS user_id FROM ((SELECT 1)) AS x)) AS s; CREATE TABLE ${MARKER_TABLE} (x int); SELECT ((1`,
      'it does not parse'],
    ['a second statement after a full one', `${CANARY_QUERY}; CREATE TABLE ${MARKER_TABLE} (x int)`, 'it holds 2 statements (SELECT, CREATE)'],
    ['SELECT … INTO', `SELECT user_id, email INTO ${MARKER_TABLE} FROM ${CANARY}`, 'it has SELECT … INTO'],
    ['a data-modifying WITH', `WITH gone AS (DELETE FROM ${CANARY} RETURNING *) SELECT user_id, email FROM gone`, 'it holds a DELETE'],
    ['FOR UPDATE', `${CANARY_QUERY} FOR UPDATE`, 'it locks rows (FOR UPDATE)'],
    ['SET ROLE', 'SET ROLE postgres', 'it is a SET statement'],
  ])('%s', async (_case, sql, found) => {
    const { pool, prepare } = harness.source({ allowPrivileged: true });
    const failure = await failureOf(prepare(sql));
    expect(failure.type).toBe(FailureType.SourceQueryFailed);
    expect(failure.nonRetryable).toBe(true);
    expect(failure.message).toContain(found);
    expect(harness.sourceConnections.get(pool)).toBe(0);
  });
});

describe('run as a read-only role, the database refuses what the role may not do, and says so', () => {
  it.each([
    ['reading a file on the server', `SELECT user_id, pg_read_file('/etc/hostname') AS email FROM ${CANARY}`,
      'The source query failed: permission denied for function pg_read_file (SQLSTATE 42501).'],
    ["reading audience-sync's own tables", 'SELECT audience_key AS user_id FROM audience_sync.audiences',
      'The source query failed: permission denied for schema audience_sync (SQLSTATE 42501).'],
  ])('%s', async (_case, sql, message) => {
    const failure = await failureOf(harness.source({ url: readerUrl }).prepare(sql));
    expect(failure.message).toBe(message);
  });

  it("ending another session: the database says no and that session lives on", async () => {
    const victim = await harness.pool.connect();
    try {
      const { rows } = await victim.query<{ pid: number }>('SELECT pg_backend_pid() AS pid');
      const failure = await failureOf(
        harness.source({ url: readerUrl }).prepare(`SELECT user_id, email, pg_terminate_backend(${rows[0].pid}) AS ended FROM ${CANARY}`),
      );
      expect(failure.message).toMatch(/^The source query failed: .*(permission denied|must be a superuser).*\(SQLSTATE 42501\)\.$/);
      expect((await victim.query('SELECT 1 AS alive')).rows).toEqual([{ alive: 1 }]);
    } finally {
      victim.release();
    }
  });

  it('a query that sleeps past the statement timeout is cancelled, and the next cycle runs', async () => {
    const { prepare } = harness.source({ url: readerUrl, limits: { statementTimeout: '1s' } });
    const failure = await failureOf(prepare(`SELECT user_id, email, pg_sleep(5)::text AS pause FROM ${CANARY} LIMIT 1`));
    expect(failure.message).toMatch(/^The source query was cancelled after the statement timeout of 1s/);
    const next = await prepare(CANARY_QUERY);
    expect(next.plan).toMatchObject({ decision: 'upload', members: 150 });
  });

  it('what a SELECT may still do leaves nothing behind: large objects and notifications go with the transaction', async () => {
    const channel = `hostile_${suffix}`;
    const listener = await harness.pool.connect();
    const heard: string[] = [];
    listener.on('notification', (notification) => heard.push(notification.channel));
    try {
      await listener.query(`LISTEN ${channel}`);
      const objects = async () =>
        Number((await harness.pool.query('SELECT count(*) AS n FROM pg_largeobject_metadata')).rows[0].n);
      const before = await objects();
      const { plan } = await harness.source({ url: readerUrl }).prepare(
        `SELECT user_id, email, lo_from_bytea(0, '\\x00')::text AS large_object, pg_notify('${channel}', user_id) AS notified
           FROM ${CANARY}`,
      );
      expect(plan).toMatchObject({ decision: 'upload', members: 150 });
      await listener.query('SELECT 1');
      await new Promise((resolve) => setTimeout(resolve, 300));
      expect(heard).toEqual([]);
      expect(await objects()).toBe(before);
    } finally {
      listener.release();
    }
  });

  it('a member id longer than a row may be fails a later cycle before the ids are loaded', async () => {
    const { prepare } = harness.source({ url: readerUrl });
    const first = await prepare(CANARY_QUERY);
    const failure = await failureOf(
      prepare(`${CANARY_QUERY} UNION ALL SELECT repeat('i', 5 * 1024 * 1024), 'long@example.com'`, first.audienceKey),
    );
    expect(failure.message).toMatch(/^A row of the source query is longer than 4 MB/);
  });

  it('a runs-privileged cycle says so', async () => {
    const { plan } = await harness.source({ allowPrivileged: true }).prepare(CANARY_QUERY);
    expect(plan.sourceWarning).toBe(
      'Runs privileged: audience queries run as the role postgres, which is a superuser (SOURCE_ALLOW_PRIVILEGED_ROLE is set).',
    );
  });

  it('a privileged role that is not allowed runs nothing and needs a person', async () => {
    const failure = await failureOf(harness.source().prepare(CANARY_QUERY));
    expect(failure.type).toBe(FailureType.NeedsPerson);
    expect(failure.message).toMatch(/^Audience queries run as the role postgres, which is a superuser: point SOURCE_DATABASE_URL/);
    expect(failure.details?.[0]).toMatchObject({ cause: 'source_role' });
  });

  it('a row of 200 MB fails the cycle with a sentence, while the worker holds no more than a few MB of it', async () => {
    const { prepare } = harness.source({ url: readerUrl });
    // Everything a cycle loads once (the parser, connections) is loaded before memory is measured.
    await prepare(CANARY_QUERY);
    const before = process.memoryUsage.rss();
    let peak = 0;
    const sampler = setInterval(() => (peak = Math.max(peak, process.memoryUsage.rss() - before)), 5);
    try {
      const failure = await failureOf(
        prepare(`SELECT 'u' || g AS user_id, CASE WHEN g = 50 THEN repeat('x', 200 * 1024 * 1024) ELSE 'a@example.com' END AS email
                   FROM generate_series(1, 100) AS g`),
      );
      expect(failure.type).toBe(FailureType.SourceQueryFailed);
      expect(failure.message).toBe(
        "A row of the source query is longer than 4 MB, the most one member's row may hold; select only the columns " +
          'that carry match keys (find the row with: SELECT user_id FROM (<query>) AS s WHERE octet_length(s::text) > 4194304).',
      );
    } finally {
      clearInterval(sampler);
    }
    // Measured: 17–21 MB more RSS at the peak (the 4 MB held, and garbage not yet collected); the row held whole
    // would take 200 MB and more.
    expect(peak).toBeLessThan(48 * 1024 * 1024);
  });
});
