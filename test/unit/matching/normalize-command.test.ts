import { createHash } from 'node:crypto';
import { PassThrough, Readable } from 'node:stream';
import { AUDIENCE_SCHEMA } from '../../../src/matching/keys';
import type { MemberRowsOptions } from '../../../src/matching/member-rows';
import { runNormalizeCommand } from '../../../src/matching/normalize-command';

const sha256 = (text: string): string => createHash('sha256').update(text, 'utf8').digest('hex');

/** Runs the command on `input` with in-memory streams; returns its summary and the parsed output lines. */
async function normalize(input: string, options?: MemberRowsOptions) {
  const output = new PassThrough();
  const chunks: Buffer[] = [];
  output.on('data', (chunk: Buffer) => chunks.push(chunk));
  const summary = await runNormalizeCommand(Readable.from([input]), output, options);
  output.end();
  const text = Buffer.concat(chunks).toString('utf8');
  expect(text.endsWith('\n')).toBe(true);
  const lines = text.trimEnd().split('\n').map((line) => JSON.parse(line) as Record<string, unknown>);
  return { summary, lines };
}

describe('runNormalizeCommand', () => {
  it('answers each key line in order with its normalized value, hash and reason', async () => {
    const { summary, lines } = await normalize(
      [
        '{"key": "PHONE", "value": "+1 (555) 987-6543"}',
        '{"key": "email", "value": " Mary@Example.com "}',
        '{"key": "first_name", "value": "José"}',
        '{"key": "PHONE", "value": "+0000000000"}',
        '{"key": "MADID", "value": "AEBE52E7-03EE-455A-B3C4-E57283966239"}',
        '{"key": "PHONE", "value": "06 12 34 56 78", "country": "FR"}',
      ].join('\n'),
    );
    expect(summary).toEqual({ lines: 6, errors: 0 });
    expect(lines).toEqual([
      {
        key: 'PHONE',
        value: '+1 (555) 987-6543',
        normalized: '15559876543',
        hash: '1ef970831d7963307784fa8688e8fce101a15685d62aa765fed23f3a2c576a4e',
        reason: null,
      },
      {
        key: 'EMAIL',
        value: ' Mary@Example.com ',
        normalized: 'mary@example.com',
        hash: 'f1904cf1a9d73a55fa5de0ac823c4403ded71afd4c3248d00bdcd0866552bb79',
        reason: null,
      },
      { key: 'FN', value: 'José', normalized: 'josé', hash: sha256('josé'), reason: null },
      { key: 'PHONE', value: '+0000000000', normalized: '', hash: null, reason: 'empty' },
      {
        key: 'MADID',
        value: 'AEBE52E7-03EE-455A-B3C4-E57283966239',
        normalized: 'aebe52e7-03ee-455a-b3c4-e57283966239',
        hash: null,
        reason: null,
      },
      { key: 'PHONE', value: '06 12 34 56 78', normalized: '33612345678', hash: sha256('33612345678'), reason: null },
    ]);
  });

  it('gives an error object for a broken line and goes on, skipping blank lines', async () => {
    const { summary, lines } = await normalize(
      [
        '{"key": "EMAIL", "value": "a@example.com"}',
        'not json',
        '',
        '   ',
        '{"key": "NOPE", "value": 1}',
        '[1, 2]',
        '{"key": "PHONE", "value": "1", "country": "Atlantis"}',
        '{"key": "ZIP", "value": "12345-6789"}',
        '',
      ].join('\r\n'),
    );
    expect(summary).toEqual({ lines: 6, errors: 4 });
    expect(lines.map((line) => line.error ?? line.normalized)).toEqual([
      'a@example.com',
      'invalid JSON',
      'unknown key "NOPE"',
      'expected an object with "key" and "value", or with "traits"',
      'unknown country "Atlantis"',
      '12345',
    ]);
  });

  it('turns a traits line into the rows that would be uploaded', async () => {
    const { lines } = await normalize(
      [
        JSON.stringify({ traits: { emails: ['a@example.com', 'b@example.com'], phone: '(202) 309-5976' } }),
        JSON.stringify({ traits: { phone: '(202) 309-5976' }, defaultCountry: 'fr' }),
        JSON.stringify({ traits: 'not an object' }),
      ].join('\n'),
      { defaultCountry: 'us' },
    );
    const phoneSlot = AUDIENCE_SCHEMA.indexOf('PHONE');
    const emailSlot = AUDIENCE_SCHEMA.indexOf('EMAIL');
    const [twoEmails, wrongCountry, broken] = lines;
    expect(twoEmails.schema).toEqual(AUDIENCE_SCHEMA);
    const rows = twoEmails.rows as string[][];
    expect(rows.map((row) => row[emailSlot])).toEqual([sha256('a@example.com'), sha256('b@example.com')]);
    expect(rows.map((row) => row[phoneSlot])).toEqual([sha256('12023095976'), sha256('12023095976')]);
    expect(wrongCountry.rows).toEqual([]);
    expect(wrongCountry.dropped).toEqual([{ key: 'PHONE', reason: 'invalid_phone' }]);
    expect(broken.error).toBe('"traits" must be an object or the JSON text of one');
  });

  it('shows the LDU columns, as JSON values, when asked for Limited Data Use', async () => {
    const { lines } = await normalize(
      [
        JSON.stringify({ traits: { email: 'a@example.com', state: 'CA', limited_data_use: true } }),
        JSON.stringify({ traits: { email: 'b@example.com' } }),
      ].join('\n'),
      { limitedDataUse: 'trait' },
    );
    const [asks, plain] = lines;
    expect(asks.schema).toEqual([...AUDIENCE_SCHEMA, 'DATA_PROCESSING_OPTIONS', 'DATA_PROCESSING_OPTIONS_COUNTRY', 'DATA_PROCESSING_OPTIONS_STATE']);
    expect((asks.rows as unknown[][])[0].slice(-3)).toEqual([['LDU'], 1, 1000]);
    expect((plain.rows as unknown[][])[0].slice(-3)).toEqual([[], 0, 0]);
  });

  it('shows LOOKALIKE_VALUE as a value-based audience uploads it, alone and in a member\'s rows', async () => {
    const { lines } = await normalize(
      [
        JSON.stringify({ key: 'lookalike_value', value: '44.567' }),
        JSON.stringify({ key: 'LOOKALIKE_VALUE', value: -2 }),
        JSON.stringify({ traits: { email: 'a@example.com', ltv: 1234.56 } }),
      ].join('\n'),
      { valueColumn: 'ltv' },
    );
    expect(lines[0]).toEqual({ key: 'LOOKALIKE_VALUE', value: '44.567', normalized: '44.6', hash: null, reason: null });
    expect(lines[1]).toEqual({ key: 'LOOKALIKE_VALUE', value: -2, normalized: '', hash: null, reason: 'invalid_value' });
    expect(lines[2].schema).toEqual([...AUDIENCE_SCHEMA, 'LOOKALIKE_VALUE']);
    expect((lines[2].rows as unknown[][])[0].at(-1)).toBe(1230);
  });

  it('keeps the order of many lines and waits for a slow reader', async () => {
    const input = Array.from({ length: 2_000 }, (_, i) => JSON.stringify({ key: 'EXTERN_ID', value: `id-${i}` }));
    const output = new PassThrough({ highWaterMark: 64 });
    const received: string[] = [];
    const reading = (async () => {
      for await (const chunk of output) received.push(String(chunk));
    })();
    const summary = await runNormalizeCommand(Readable.from([input.join('\n')]), output);
    output.end();
    await reading;
    expect(summary).toEqual({ lines: 2_000, errors: 0 });
    const values = received.join('').trimEnd().split('\n').map((line) => JSON.parse(line).normalized);
    expect(values).toEqual(input.map((_, i) => `id-${i}`));
  });
});
