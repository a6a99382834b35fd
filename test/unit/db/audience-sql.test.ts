import { AudienceSqlRejected, checkAudienceSql, wrapAudienceSql, type AudienceSql } from '../../../src/db/audience-sql';
import {
  dollarQuotedConstant,
  FINGERPRINT_COPY,
  MEMBER_COLUMNS,
  memberRowsCopy,
  textArrayLiteral,
  type WrappedStatement,
} from '../../../src/db/source-query';

/** The breakout of the issue that started this check: it closes the wrapper's subquery and appends statements. */
const ISSUE_BREAKOUT =
  "SELECT 'u1'::text AS user_id, 'a@b.co' AS email) AS s LIMIT 0; COPY (SELECT 2) TO PROGRAM 'id > /tmp/x'; " +
  "SELECT * FROM (SELECT 'u1'::text AS user_id, 'a@b.co' AS email";

describe('checkAudienceSql accepts one read-only SELECT', () => {
  it.each([
    ['a plain SELECT', 'SELECT user_id, email FROM users', 'SELECT user_id, email FROM users'],
    ['WITH … SELECT', 'WITH paying AS (SELECT * FROM users WHERE plan <> $$free$$) SELECT user_id FROM paying',
      'WITH paying AS (SELECT * FROM users WHERE plan <> $$free$$) SELECT user_id FROM paying'],
    ['VALUES', "VALUES ('u1', 'a@example.com')", "VALUES ('u1', 'a@example.com')"],
    ['TABLE', 'TABLE users', 'TABLE users'],
    ['a UNION', 'SELECT user_id FROM a UNION SELECT user_id FROM b', 'SELECT user_id FROM a UNION SELECT user_id FROM b'],
    ['a trailing semicolon and comment', 'SELECT 1 AS user_id; -- the paying ones\n', 'SELECT 1 AS user_id'],
    ['several trailing semicolons', 'SELECT 1 AS user_id;; ;', 'SELECT 1 AS user_id'],
    ['a leading comment', '/* audience */ SELECT 1 AS user_id', 'SELECT 1 AS user_id'],
    ['a trailing line comment, kept (the wrapper ends it with a newline)', 'SELECT 1 AS user_id -- note', 'SELECT 1 AS user_id -- note'],
    ['a semicolon inside quotes, dollar quotes and comments', "SELECT ';' AS a, $x$;)$x$ AS b /* ; ) */ , 1 AS user_id",
      "SELECT ';' AS a, $x$;)$x$ AS b /* ; ) */ , 1 AS user_id"],
    ['multi-byte text before the end', "SELECT 'Zoë 東京' AS city, 1 AS user_id; -- fin", "SELECT 'Zoë 東京' AS city, 1 AS user_id"],
    ['nested parentheses', 'SELECT ((1)) AS user_id FROM (SELECT (2) FROM (SELECT 3) AS a WHERE (1 = (1))) AS b',
      'SELECT ((1)) AS user_id FROM (SELECT (2) FROM (SELECT 3) AS a WHERE (1 = (1))) AS b'],
    ['a parenthesized SELECT', '(SELECT 1 AS user_id)', '(SELECT 1 AS user_id)'],
  ])('%s', async (_case, sql, statement) => {
    const query = await checkAudienceSql(sql);
    expect(query.statement).toBe(statement);
    for (const wrapper of [FINGERPRINT_COPY, MEMBER_COLUMNS, memberRowsCopy(), memberRowsCopy(['u1', "o'neil"])]) {
      expect(wrapAudienceSql(query, wrapper)).toContain(`(${statement}\n)`);
    }
  });
});

describe('checkAudienceSql refuses anything else with one sentence naming what it found', () => {
  it.each([
    ['two statements', 'SELECT 1 AS user_id; SELECT 2', 'must be one SELECT statement; it holds 2 statements (SELECT, SELECT).'],
    ['a SELECT and two COPYs', "SELECT 1 AS user_id; COPY (SELECT 1) TO PROGRAM 'id'; COPY t TO '/tmp/t'",
      'must be one SELECT statement; it holds 3 statements (SELECT, COPY, COPY).'],
    ['a transaction around it', 'BEGIN; SELECT 1 AS user_id; COMMIT', 'it holds 3 statements (BEGIN, SELECT, COMMIT).'],
    ['COPY … TO PROGRAM', "COPY (SELECT 1) TO PROGRAM 'id > /tmp/x'", 'must be one SELECT statement; it is a COPY statement.'],
    ['SET ROLE', 'SET ROLE postgres', 'must be one SELECT statement; it is a SET statement.'],
    ['EXPLAIN ANALYZE of a DELETE', 'EXPLAIN ANALYZE DELETE FROM users', 'it is an EXPLAIN statement.'],
    ['DO', 'DO $$ BEGIN PERFORM 1; END $$', 'it is a DO statement.'],
    ['a WITH that leads a DELETE', 'WITH x AS (SELECT 1) DELETE FROM users', 'it is a DELETE statement.'],
    ['SELECT … INTO', 'SELECT user_id INTO copied FROM users', 'must only read; it has SELECT … INTO, which creates a table.'],
    ['a data-modifying WITH', 'WITH gone AS (DELETE FROM users RETURNING user_id) SELECT user_id FROM gone',
      'must only read; it holds a DELETE.'],
    ['a data-modifying WITH in a subquery', 'SELECT * FROM (WITH x AS (UPDATE users SET plan = 1 RETURNING *) SELECT * FROM x) s',
      'must only read; it holds an UPDATE.'],
    ['an INSERT in a WITH', 'WITH x AS (INSERT INTO t VALUES (1) RETURNING *) SELECT * FROM x', 'it holds an INSERT.'],
    ['FOR UPDATE', 'SELECT user_id FROM users FOR UPDATE', 'must only read; it locks rows (FOR UPDATE).'],
    ['FOR NO KEY UPDATE', 'SELECT user_id FROM users FOR NO KEY UPDATE', 'it locks rows (FOR NO KEY UPDATE).'],
    ['FOR SHARE in a subquery', 'SELECT * FROM (SELECT user_id FROM users FOR SHARE) s', 'it locks rows (FOR SHARE).'],
    ['FOR KEY SHARE', 'SELECT user_id FROM users FOR KEY SHARE SKIP LOCKED', 'it locks rows (FOR KEY SHARE).'],
    ['nothing', '   ', 'must be one SELECT statement; it holds none (only comments or whitespace).'],
    ['only comments', '-- just a note\n/* and another */;', 'it holds none (only comments or whitespace).'],
    ['the breakout that closes the wrapper', ISSUE_BREAKOUT, 'it does not parse: syntax error at or near ")" at character 48.'],
    ['a breakout shaped for the LIMIT 0 lookup',
      "SELECT 1 AS user_id\n) AS s LIMIT 0; CREATE TABLE pwned (x int); SELECT * FROM (SELECT 1",
      'it does not parse: syntax error at or near ")" at character 21.'],
    ['a breakout shaped for COPY', "SELECT 1 AS user_id) AS s) TO STDOUT; COPY (SELECT 1) TO PROGRAM 'id'; COPY (SELECT * FROM (SELECT 1",
      'it does not parse: syntax error at or near ")"'],
    ['a breakout hidden behind a comment', "SELECT 1 AS user_id /* ) AS s; */ ); COPY (SELECT 1) TO PROGRAM 'id'; --",
      'it does not parse: syntax error at or near ")"'],
    ['a breakout after a dollar quote', "SELECT $q$ $$ ) $q$ AS user_id) AS s; COPY (SELECT 1) TO PROGRAM 'id'; SELECT (1",
      'it does not parse: syntax error at or near ")"'],
    ['an unterminated comment that would swallow the wrapper', 'SELECT 1 AS user_id /* ', 'unterminated /* comment'],
    ['an unterminated dollar quote', 'SELECT $x$ AS user_id', 'unterminated dollar-quoted string'],
    ['an unterminated string', "SELECT 'a AS user_id", 'unterminated quoted string'],
  ])('%s', async (_case, sql, message) => {
    const rejected = checkAudienceSql(sql);
    await expect(rejected).rejects.toBeInstanceOf(AudienceSqlRejected);
    await expect(rejected).rejects.toThrow(message);
  });

  it.each([
    ['a NUL, which would end the text the parser reads', 'SELECT 1 AS user_id\0; DROP TABLE users'],
    ['half of a surrogate pair', 'SELECT 1 AS user_id, \'\uD800\' AS x'],
    ['a lone low surrogate', 'SELECT \'\uDC00\' AS user_id'],
  ])('%s', async (_case, sql) => {
    await expect(checkAudienceSql(sql)).rejects.toThrow(
      'The audience query must be one SELECT statement; it holds a character that is not text (a NUL, or half of a surrogate pair).',
    );
  });

  it('takes a whole surrogate pair as the character it is', async () => {
    expect((await checkAudienceSql("SELECT '😀' AS user_id")).statement).toBe("SELECT '😀' AS user_id");
  });

  it('never quotes the SQL it refuses', async () => {
    await expect(checkAudienceSql("SELECT 'secret@example.com' AS user_id; SELECT 2")).rejects.toThrow(
      /^The audience query must be one SELECT statement; it holds 2 statements \(SELECT, SELECT\)\.$/,
    );
  });
});

describe('wrapAudienceSql', () => {
  it('refuses a statement that does not stay the subquery it was checked as', async () => {
    // A forged check result: its text breaks out of the wrapper while its tree claims to be `SELECT 1`.
    const honest = await checkAudienceSql('SELECT 1 AS user_id');
    const forged: AudienceSql = { statement: ISSUE_BREAKOUT.replace(/^SELECT 'u1'::text AS user_id, 'a@b.co' AS email/, 'SELECT 1 AS user_id'), tree: honest.tree };
    for (const wrapper of [FINGERPRINT_COPY, MEMBER_COLUMNS, memberRowsCopy()]) {
      expect(() => wrapAudienceSql(forged, wrapper)).toThrow(AudienceSqlRejected);
    }
    // One that parses but as another query than the one checked.
    const other: AudienceSql = { statement: 'SELECT 2 AS user_id', tree: honest.tree };
    expect(() => wrapAudienceSql(other, MEMBER_COLUMNS)).toThrow(/no longer parses as that one SELECT/);
  });

  it('sends the listed ids in the constant it checked an empty version of', async () => {
    const query = await checkAudienceSql('SELECT user_id FROM users');
    const wrapper: WrappedStatement = memberRowsCopy(['u1', 'u$c0$2']);
    const sent = wrapAudienceSql(query, wrapper);
    expect(sent).toContain('ANY ($c1${"u1","u$c0$2"}$c1$::pg_catalog.text[])');
    expect(wrapper.after).toContain('ANY ($c1$$c1$::pg_catalog.text[])');
  });
});

describe('dollarQuotedConstant', () => {
  it.each([
    ['plain text', 'abc', '$c0$abc$c0$'],
    ['text holding the first tag', 'a$c0$b', '$c1$a$c0$b$c1$'],
    ['text ending where the tag would begin', 'a$c0', '$c1$a$c0$c1$'],
    ['text ending in a dollar', 'a$', '$c0$a$$c0$'],
    ['nothing', '', '$c0$$c0$'],
  ])('%s', (_case, content, quoted) => {
    const constant = dollarQuotedConstant(content);
    expect(constant.quoted).toBe(quoted);
    // The first occurrence of the closing tag is the one after the content.
    const tag = constant.empty.slice(0, constant.empty.length / 2);
    expect(constant.quoted.indexOf(tag, tag.length)).toBe(tag.length + content.length);
  });

  it('finds a free tag in content that holds many', () => {
    const content = Array.from({ length: 1000 }, (_, n) => `$c${n}$`).join('');
    expect(dollarQuotedConstant(content).empty).toBe('$c1000$$c1000$');
  });

  it('a content ending with a tag prefix does not end the constant early', () => {
    // `a$c0` followed by the tag `$c0$` would read as `a` + `$c0$`: that tag cannot be the one.
    expect(dollarQuotedConstant('a$c0').quoted.startsWith('$c0$')).toBe(false);
  });
});

describe('textArrayLiteral', () => {
  it('quotes every element and escapes quotes and backslashes', () => {
    expect(textArrayLiteral(['a', 'b c', 'q"uote', 'back\\slash', '', 'NULL'])).toBe(
      '{"a","b c","q\\"uote","back\\\\slash","","NULL"}',
    );
  });
});
