import { existsSync } from 'node:fs';
import type { AudiencePreview } from '../../src/client/preview-tally';
import { TestStack, TEST_DATABASE_URL } from '../support/test-stack';

jest.setTimeout(300_000);

/**
 * `preview` and the summary `connect` prints, run through the compiled CLI as the test reader role: what a query
 * yields, counted as a cycle counts it, with nothing created anywhere and no member value shown.
 */
describe('previewing an audience query, end to end', () => {
  let stack: TestStack;
  let table: string;
  let query: string;
  const markerFile = () => `/tmp/audience-sync-preview-${stack.suffix}`;
  /** Every value in the source that is a member's: none may reach the output, nor its hash. */
  const RAW_VALUES = ['@example', 'not an email', 'bad@', '2025550', 'Ann', 'Cyd', 'Narnia'];

  beforeAll(async () => {
    stack = await TestStack.start();
    table = `preview_${stack.suffix}`;
    await stack.pool.query(
      `CREATE TABLE ${table} (n int, user_id text, email text, phone text, first_name text, country text, ltv numeric,
                              traits jsonb NOT NULL DEFAULT '{}')`,
    );
    await stack.pool.query(
      `INSERT INTO ${table} VALUES
         (1, 'm1', 'm1@example.com', '+1 202 555 0101', 'Ann', 'US', 10, '{}'),
         (2, 'm2', 'm2@example.com', NULL, NULL, NULL, 20, '{"emails": ["m2b@example.org"]}'),
         (3, 'm3', 'not an email', '+1 202 555 0103', 'Cyd', NULL, 30, '{}'),
         (4, 'm4', 'm4@example.com', '12', NULL, 'Narnia', NULL, '{}'),
         (5, 'm5', NULL, NULL, NULL, NULL, 5, '{}'),
         (6, 'm6', 'bad@', NULL, NULL, NULL, 6, '{}'),
         (7, 'm1', 'm1-again@example.com', NULL, NULL, NULL, 10, '{}'),
         (8, NULL, 'nobody@example.com', NULL, NULL, NULL, 1, '{}')`,
    );
    query = `SELECT user_id, email, phone, first_name, country, ltv, traits FROM ${table} ORDER BY n`;
  });

  afterAll(async () => {
    expect(existsSync(markerFile())).toBe(false);
    await stack?.stop();
  });

  /** Every relation in the database and the rows of audience-sync's own tables, to show nothing was made. */
  async function databaseState(): Promise<unknown> {
    const { rows: relations } = await stack.pool.query<{ name: string }>(
      `SELECT n.nspname || '.' || c.relname AS name FROM pg_catalog.pg_class c
         JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace
        WHERE n.nspname NOT IN ('pg_catalog', 'information_schema') AND n.nspname NOT LIKE 'pg_toast%'
        ORDER BY 1`,
    );
    const counts: Record<string, number> = {};
    for (const { name } of relations.filter((relation) => relation.name.startsWith('audience_sync.'))) {
      const { rows } = await stack.pool.query<{ count: number }>(`SELECT count(*)::int AS count FROM ${name}`).catch(() => ({
        rows: [{ count: -1 }],
      }));
      counts[name] = rows[0]?.count ?? -1;
    }
    return { relations: relations.map((relation) => relation.name), counts };
  }

  const preview = (...args: string[]) => stack.cli(['preview', '--query', query, ...args]);

  function expectNoMemberValues(output: string): void {
    for (const value of RAW_VALUES) expect(output).not.toContain(value);
    expect(output).not.toMatch(/[0-9a-f]{64}/i);
  }

  it('counts members, coverage, drops and duplicates as a cycle would, and creates nothing', async () => {
    const before = await databaseState();
    const callsBefore = await stack.lastCallSeq();

    const result = await preview('--json');
    expect(result.stderr).toBe('');
    expect(result.code).toBe(0);
    const json = JSON.parse(result.stdout) as AudiencePreview;
    expect(json).toEqual({
      sourceRows: 8,
      // m1 (its first row), m2, m3, m4; m5 has no match key and m6 only a bad email.
      members: 4,
      userIdsWithoutRows: 2,
      coverage: { EMAIL: 3, PHONE: 2, FN: 2, FI: 2, COUNTRY: 1 },
      drops: {
        'EMAIL:invalid_email': 2,
        'COUNTRY:unknown_country': 1,
        'PHONE:invalid_phone': 1,
        'user_id:missing': 1,
      },
      dropped: 5,
      duplicateUserIds: { userIds: 1, rows: 2 },
      examples: [
        { userId: 'm1', keys: ['EMAIL', 'PHONE', 'FN', 'FI', 'COUNTRY'], rows: 1, dropped: [] },
        { userId: 'm2', keys: ['EMAIL'], rows: 2, dropped: [] },
        { userId: 'm3', keys: ['PHONE', 'FN', 'FI'], rows: 1, dropped: ['EMAIL:invalid_email'] },
        { userId: 'm4', keys: ['EMAIL'], rows: 1, dropped: ['COUNTRY:unknown_country', 'PHONE:invalid_phone'] },
        { userId: 'm5', keys: [], rows: 0, dropped: [] },
      ],
      dropExamples: {
        'EMAIL:invalid_email': ['m3', 'm6'],
        'PHONE:invalid_phone': ['m4'],
        'COUNTRY:unknown_country': ['m4'],
      },
    });
    expectNoMemberValues(result.stdout);

    const text = await preview('--sample', '2');
    expect(text.code).toBe(0);
    expect(text.stdout.split('\n')).toEqual([
      'The query returns 8 rows: 4 members; 2 user_ids left out, with nothing Meta can use. Nothing was created.',
      '  match keys:      EMAIL 75%, PHONE 50%, FN 50%, FI 50%, COUNTRY 25%',
      '  dropped values:  EMAIL:invalid_email 2, COUNTRY:unknown_country 1, PHONE:invalid_phone 1, user_id:missing 1',
      '  dropped from:    EMAIL:invalid_email m3, m6; COUNTRY:unknown_country m4; PHONE:invalid_phone m4',
      '  duplicate ids:   1 user_id on 2 rows; a cycle keeps one row of each',
      '  examples:        m1: EMAIL, PHONE, FN, FI, COUNTRY (1 row)',
      '                   m2: EMAIL (2 rows)',
      '',
    ]);
    expectNoMemberValues(text.stdout);

    expect(await databaseState()).toEqual(before);
    expect(await stack.lastCallSeq()).toBe(callsBefore);
  });

  it('counts each user_id once when its rows are read in different chunks, on the hashing threads', async () => {
    // Some 2.6 MB of COPY text, several chunks: ids 1 to 5,000 come again in the last quarter of the rows.
    const result = await stack.cli(['preview', '--json', '--sample', '3', '--query',
      `SELECT 'g' || (g % 15000) AS user_id, 'person' || g || '@example.com' AS email, repeat('x', 100) AS note
         FROM generate_series(1, 20000) AS g`]);
    expect(JSON.parse(result.stdout)).toMatchObject({
      sourceRows: 20000,
      members: 15000,
      userIdsWithoutRows: 0,
      coverage: { EMAIL: 15000 },
      duplicateUserIds: { userIds: 5000, rows: 10000 },
      examples: [{ userId: 'g1' }, { userId: 'g2' }, { userId: 'g3' }],
    });
  });

  it('takes the options that change what members yield: value column, limited data use, default country', async () => {
    const result = await preview('--value-column', 'ltv', '--limited-data-use', 'all', '--default-country', 'us', '--json');
    const json = JSON.parse(result.stdout) as AudiencePreview;
    // m4 has no value, so a value-based audience leaves it out. LDU counts every member read with a value, rows
    // or not (m5 and m6 have none), as `status` counts it.
    expect(json).toMatchObject({
      members: 3,
      userIdsWithoutRows: 3,
      coverage: { LOOKALIKE_VALUE: 3, LDU: 5 },
      drops: { 'LOOKALIKE_VALUE:invalid_value': 1 },
    });
    expect(json.examples[0]?.keys).toEqual(['EMAIL', 'PHONE', 'FN', 'FI', 'COUNTRY', 'LDU', 'LOOKALIKE_VALUE']);
  });

  it('refuses a query that is not one SELECT with the sentence connect gives, before any database sees it', async () => {
    const breakout =
      `SELECT 'u1'::text AS user_id, 'a@b.co' AS email) AS s LIMIT 0; COPY (SELECT 2) TO PROGRAM 'touch ${markerFile()}'; ` +
      `SELECT * FROM (SELECT 'u1'::text AS user_id, 'a@b.co' AS email`;
    for (const sql of [breakout, `WITH gone AS (DELETE FROM ${table} RETURNING *) SELECT * FROM gone`, `${query} FOR UPDATE`]) {
      const previewed = await stack.cli(['preview', '--query', sql]);
      const connected = await stack.cli(['connect', '--audience', `hostile-${stack.suffix}`, '--name', 'x',
        '--ad-account', 'act_9990005', '--query', sql]);
      expect(previewed.code).toBe(1);
      expect(previewed.stderr).toMatch(/^audience-sync: The audience query must (be one SELECT statement|only read); /);
      expect(previewed.stderr).toBe(connected.stderr);
    }
    expect((await stack.pool.query(`SELECT count(*)::int AS count FROM ${table}`)).rows[0]).toEqual({ count: 8 });
  });

  it('runs no query as a privileged role, unless SOURCE_ALLOW_PRIVILEGED_ROLE says it may, and then says so', async () => {
    const superuser = { SOURCE_DATABASE_URL: TEST_DATABASE_URL };
    const refused = await stack.cli(['preview', '--query', query], superuser);
    expect(refused.code).toBe(1);
    expect(refused.stderr).toMatch(
      /^audience-sync: The query was not tried: Audience queries run as the role postgres, which is a superuser: /,
    );
    const allowed = await stack.cli(['preview', '--query', query, '--json'], { ...superuser, SOURCE_ALLOW_PRIVILEGED_ROLE: 'true' });
    expect(JSON.parse(allowed.stdout)).toMatchObject({
      members: 4,
      sourceWarning: expect.stringMatching(/^Runs privileged: audience queries run as the role postgres, which is a superuser/),
    });
  });

  it("fails as a cycle fails on a query without user_id, a row over 4 MB, or what the role may not read", async () => {
    const cases: [string, string][] = [
      [`SELECT email FROM ${table}`,
        'The source query returns no user_id column; it must return one row per member with a stable user_id.'],
      [`SELECT user_id, repeat('x', 5000000) AS note FROM ${table}`, 'A row of the source query is longer than 4 MB'],
      [`SELECT user_id, pg_read_file('/etc/hostname') AS email FROM ${table}`,
        'The source query failed: permission denied for function pg_read_file (SQLSTATE 42501).'],
      [`SELECT user_id, (email::int)::text AS email FROM ${table}`,
        'The source query failed: PostgreSQL could not evaluate it over the current data (the message is withheld'],
    ];
    for (const [sql, sentence] of cases) {
      const result = await stack.cli(['preview', '--query', sql]);
      expect(result.code).toBe(1);
      expect(result.stderr).toContain(`audience-sync: ${sentence}`);
      expectNoMemberValues(result.stderr);
    }
  });

  it('connect prints the same summary before it starts the workflow, and carries it in --json', async () => {
    const connect = (key: string, ...flags: string[]) =>
      stack.cli(['connect', '--audience', key, '--name', key, '--ad-account', 'act_9990005', '--query', query, ...flags]);
    const shown = await preview();
    const connected = await connect(`previewed-${stack.suffix}`);
    expect(connected.code).toBe(0);
    expect(connected.stdout).toBe(
      shown.stdout.replace(
        /\n {2}examples:/,
        '\n  minimum size:    100: cycles upload nothing until the query yields that many members\n  examples:',
      ) + `Connected previewed-${stack.suffix}: its Custom Audience is created and the first cycle starts now.\n`,
    );

    const asJson = await connect(`previewed-json-${stack.suffix}`, '--min-size', '3', '--json');
    expect(JSON.parse(asJson.stdout)).toEqual({
      audienceKey: `previewed-json-${stack.suffix}`,
      started: true,
      differences: [],
      preview: JSON.parse((await preview('--json')).stdout),
    });

    const unchecked = await connect(`unchecked-${stack.suffix}`, '--no-check');
    expect(unchecked.stdout).toBe(`Connected unchecked-${stack.suffix}: its Custom Audience is created and the first cycle starts now.\n`);
  });
});
