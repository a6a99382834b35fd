import { Readable } from 'node:stream';
import { Pool, type types } from 'pg';
import { to as copyTo } from 'pg-copy-streams';
import { parseCopyTextRows } from '../../src/db/copy-text';
import { sourceTypeParser } from '../../src/db/source-types';

/**
 * A cycle reads the source as COPY text and parses it on the hashing threads, with the driver's column parsers.
 * The values must be exactly those the driver itself reads from the same rows, so each case here is read both ways
 * from the real database and compared.
 */
const sourcePool = new Pool({
  connectionString: process.env.DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/postgres',
  max: 1,
  types: { getTypeParser: sourceTypeParser as typeof types.getTypeParser },
});

afterAll(() => sourcePool.end());

async function copyText(sql: string): Promise<Buffer> {
  const client = await sourcePool.connect();
  try {
    const chunks: Buffer[] = [];
    for await (const chunk of client.query(copyTo(`COPY (${sql}) TO STDOUT`)) as Readable) chunks.push(chunk as Buffer);
    return Buffer.concat(chunks);
  } finally {
    client.release();
  }
}

async function bothWays(sql: string): Promise<{ driver: unknown[]; copy: unknown[] }> {
  const read = await sourcePool.query(sql);
  const columns = read.fields.map((field) => ({ name: field.name, typeOid: field.dataTypeID }));
  return { driver: read.rows, copy: [...parseCopyTextRows(await copyText(sql), columns)] };
}

describe('parseCopyTextRows reads COPY text as the driver reads the same rows', () => {
  it.each([
    ['plain text and NULL', `SELECT 'a@example.com' AS email, NULL::text AS phone, '' AS city`],
    ['escaped characters', `SELECT E'tab\\there' AS a, E'new\\nline' AS b, E'back\\\\slash' AS c, E'\\r\\b\\f\\v' AS d`],
    ['text that looks like an escape or NULL', `SELECT E'\\\\N' AS a, 'N' AS b, E'\\\\t' AS c, E'ends with \\\\' AS d`],
    ['multi-byte UTF-8', `SELECT 'Zoë Müller' AS name, 'São Paulo 😀' AS city, '東京' AS other`],
    ['numbers and booleans', `SELECT 42 AS i, 9007199254740993::bigint AS big, 1.50::numeric AS n, 2.5::float8 AS f, true AS t`],
    ['dates stay text', `SELECT date '1990-02-03' AS birthday, timestamptz '1990-02-03 23:30:00+00' AS seen, timestamp '2001-01-01 00:00' AS at`],
    ['json, jsonb and arrays', `SELECT '{"emails": ["a@x.com", "b\\\\c"]}'::jsonb AS traits, '[1, "two"]'::json AS j,
                                      ARRAY['x', NULL, 'has,comma', 'has "quote"', E'tab\\tin'] AS emails, ARRAY[1, 2] AS ints`],
    ['a repeated column name: the later one wins', `SELECT 'first' AS email, 'second' AS email`],
    ['several rows', `SELECT g AS user_id, 'u' || g || E'\\t@example.com' AS email FROM generate_series(1, 50) AS g`],
  ])('%s', async (_case, sql) => {
    const { driver, copy } = await bothWays(sql);
    expect(copy).toEqual(driver);
    expect(copy.length).toBeGreaterThan(0);
  });

  it('refuses a cut-off row and a row with a column too many', () => {
    const columns = [
      { name: 'user_id', typeOid: 25 },
      { name: 'email', typeOid: 25 },
    ];
    expect([...parseCopyTextRows(Buffer.from('1\ta@example.com\n'), columns)]).toEqual([{ user_id: '1', email: 'a@example.com' }]);
    expect(() => [...parseCopyTextRows(Buffer.from('1\ta@example.com\n2\tb@exa'), columns)]).toThrow('ends inside a row');
    expect(() => [...parseCopyTextRows(Buffer.from('1\n'), columns)]).toThrow('1 of its 2 columns');
    expect(() => [...parseCopyTextRows(Buffer.from('1\ta\tb\n'), columns)]).toThrow('more than its 2 columns');
    // A lone backslash before a field's end: COPY always escapes a backslash, so the text is not COPY's.
    expect(() => [...parseCopyTextRows(Buffer.from('1\\\ta\n'), columns)]).toThrow('ends inside an escape');
    expect(() => [...parseCopyTextRows(Buffer.from('1\ta\\\n'), columns)]).toThrow('ends inside an escape');
    expect([...parseCopyTextRows(Buffer.from('1\ta\\\\\n'), columns)]).toEqual([{ user_id: '1', email: 'a\\' }]);
  });
});
