import { createHash } from 'node:crypto';
import fc from 'fast-check';
import { KNOWN_DIGEST_COUNT, KNOWN_DIGESTS, knownDigestNumber } from '../../../src/matching/known-digests';
import { compactRowInPlace, decodeRow, encodeRow, rowsJson } from '../../../src/matching/row-codec';

/**
 * The rows' JSON as written after a prefix, so a wrong length or offset shows up as a difference, into a view that
 * starts inside its memory, as a pooled buffer does.
 */
function writtenJson(rows: Buffer[]): string {
  const json = rowsJson(rows);
  const target = Buffer.alloc(json.byteLength + 5, '#').subarray(3);
  expect(json.writeTo(target, 1)).toBe(json.byteLength + 1);
  expect(target.toString('latin1', json.byteLength + 1)).toBe('#');
  return target.toString('utf8', 1, json.byteLength + 1);
}

const rowJson = (encoded: Buffer) => writtenJson([encoded]);

const HASH = 'f1904cf1a9d73a55fa5de0ac823c4403ded71afd4c3248d00bdcd0866552bb79';
const sha256 = (text: string) => createHash('sha256').update(text).digest('hex');

/** The compact form of a row given as cells, written in place after other bytes, which it must leave alone. */
function compact(row: string[]): Buffer {
  const full = encodeRow(row);
  const buffer = Buffer.concat([Buffer.from('before'), full]);
  const end = compactRowInPlace(buffer, 6, buffer.length);
  expect(buffer.toString('latin1', 0, 6)).toBe('before');
  return buffer.subarray(6, end);
}

describe('row codec', () => {
  it.each<[string, string[], number]>([
    ['empty cells', ['', '', ''], 3],
    ['a hash takes 33 bytes', [HASH, ''], 34],
    ['unhashed text keeps its UTF-8', ['customer-42', '38400000-8cf0-11bd-b23e-10b96e4ef00d', ''], 3 + 11 + 3 + 36 + 1],
    ['uppercase hex is text, not a hash', [HASH.toUpperCase()], 3 + 64],
    ['non-Latin text', ['José Ωμέγα 東京'], 3 + Buffer.byteLength('José Ωμέγα 東京')],
  ])('%s', (_name, row, size) => {
    const encoded = encodeRow(row);
    expect(encoded.length).toBe(size);
    expect(decodeRow(encoded)).toEqual(row);
    expect(rowJson(encoded)).toBe(JSON.stringify(row));
  });

  it('uploads the cells after the match keys (the LDU columns) as JSON values', () => {
    const row = [...Array.from({ length: 15 }, (_, i) => (i === 1 ? HASH : '')), '["LDU"]', '1', '1000'];
    const encoded = encodeRow(row);
    expect(decodeRow(encoded)).toEqual(row);
    expect(JSON.parse(rowJson(encoded))).toEqual([...row.slice(0, 15), ['LDU'], 1, 1000]);
    expect(JSON.parse(writtenJson([encoded, encodeRow([...row.slice(0, 15), '[]', '0', '0'])]) .replace(/^/, '[').concat(']'))).toEqual([
      [...row.slice(0, 15), ['LDU'], 1, 1000],
      [...row.slice(0, 15), [], 0, 0],
    ]);
  });

  it('round-trips any row of strings', () => {
    const cell = fc.oneof(fc.constant(''), fc.stringMatching(/^[0-9a-f]{64}$/), fc.string({ maxLength: 80 }));
    fc.assert(
      fc.property(fc.array(cell, { maxLength: 15 }), (row) => {
        expect(rowJson(encodeRow(row))).toBe(JSON.stringify(row));
      }),
    );
  });

  it('encodes a row the same whether its hashed cells are vouched-for digest bytes or hex', () => {
    const row = [HASH, '', HASH.replace(/[0-9]/g, 'a'), 'customer-42', HASH];
    const hashedSlots = [true, true, true, false];
    const asBytes = row.map((cell, i) => (hashedSlots[i] && cell !== '' ? Buffer.from(cell, 'hex').toString('latin1') : cell));
    expect(encodeRow(asBytes, hashedSlots)).toEqual(encodeRow(row));
    expect(rowJson(encodeRow(asBytes, hashedSlots))).toBe(JSON.stringify(row));
  });

  it('refuses a vouched-for cell that is not a digest', () => {
    expect(() => encodeRow([HASH], [true])).toThrow(/not a SHA-256 digest/);
    expect(() => encodeRow(['x'.repeat(31)], [true])).toThrow(/not a SHA-256 digest/);
  });

  it('writes many rows as the comma-separated JSON Meta receives, byte for byte', () => {
    const cell = fc.oneof(fc.constant(''), fc.stringMatching(/^[0-9a-f]{64}$/), fc.string({ maxLength: 40, unit: 'grapheme' }), fc.string({ maxLength: 10, unit: 'binary' }));
    fc.assert(
      fc.property(fc.array(fc.array(cell, { maxLength: 15 }), { maxLength: 20 }), (rows) => {
        expect(writtenJson(rows.map((row) => encodeRow(row)))).toBe(rows.map((row) => JSON.stringify(row)).join(','));
      }),
    );
  });

  it.each<[string, string, number]>([
    ['a letter (a gender, an initial)', 'f', 3],
    ['two letters (a state, a country)', 'ca', 3],
    ['a month or a day', '07', 3],
    ['the last day', '31', 3],
    ['a birth year', '1990', 3],
    ['the first and last years', '1900', 3],
    ['', '2099', 3],
    ['no day', '00', 33],
    ['no month', '32', 33],
    ['a year before the list', '1899', 33],
    ['a year after it', '2100', 33],
    ['three letters', 'abc', 33],
    ['a letter beyond a–z', 'é', 33],
    ['an e-mail', 'mary@example.com', 33],
  ])('stores the digest of %s %j compactly only if it is known', (_name, value, cellBytes) => {
    const row = ['', sha256(value), 'customer-42'];
    const stored = compact(row);
    expect(stored.length).toBe(1 + cellBytes + 3 + 'customer-42'.length);
    expect(decodeRow(stored)).toEqual(row);
    expect(rowJson(stored)).toBe(JSON.stringify(row));
  });

  it('stores any row compactly as the same row, each known digest in 3 bytes instead of 33', () => {
    const knownHashes = Array.from({ length: KNOWN_DIGEST_COUNT }, (_, n) =>
      KNOWN_DIGESTS.toString('hex', n * 32, n * 32 + 32),
    );
    const known = new Set(knownHashes);
    const cell = fc.oneof(
      fc.constant(''),
      fc.constantFrom(...knownHashes),
      fc.stringMatching(/^[0-9a-f]{64}$/),
      fc.string({ maxLength: 40, unit: 'grapheme' }),
    );
    fc.assert(
      fc.property(fc.array(fc.array(cell, { maxLength: 15 }), { maxLength: 8 }), (rows) => {
        const stored = rows.map(compact);
        stored.forEach((row, i) => {
          const cells = rows[i] as string[];
          expect(row.length).toBe(encodeRow(cells).length - 30 * cells.filter((each) => known.has(each)).length);
          expect(decodeRow(row)).toEqual(cells);
          // Canonical: the row read back and stored again has the same bytes.
          expect(compact(decodeRow(row)).equals(row)).toBe(true);
        });
        expect(writtenJson(stored)).toBe(rows.map((row) => JSON.stringify(row)).join(','));
      }),
    );
  });

  it("refuses a known digest's number beyond the list it knows", () => {
    const beyond = Buffer.from([0, 4, 0xff, 0xff]);
    expect(() => decodeRow(beyond)).toThrow("not a known digest's number at byte 1");
    expect(() => rowsJson([beyond])).toThrow("not a known digest's number");
  });

  it('knows each known digest by its number, and no other digest', () => {
    for (let number = 0; number < KNOWN_DIGEST_COUNT; number++) {
      const digest = Buffer.from(KNOWN_DIGESTS.subarray(number * 32, number * 32 + 32));
      expect(knownDigestNumber(digest, 0)).toBe(number);
      digest[31] ^= 1;
      expect(knownDigestNumber(digest, 0)).toBe(-1);
      // The lookup's key leaves out the fourth byte's last two bits.
      digest[31] ^= 1;
      digest[3] ^= 1;
      expect(knownDigestNumber(digest, 0)).toBe(-1);
      expect(knownDigestNumber(Buffer.concat([Buffer.alloc(5), KNOWN_DIGESTS.subarray(number * 32)]), 5)).toBe(number);
    }
    // Stored rows name these by their numbers: the list may grow at its end, but none of these may change.
    const first = 26 + 26 * 26 + 31 + 200;
    expect(KNOWN_DIGEST_COUNT).toBeGreaterThanOrEqual(first);
    const listed = createHash('sha256').update(KNOWN_DIGESTS.subarray(0, first * 32)).digest('hex');
    expect(listed.slice(0, 16)).toBe('c40c4c4d9dd7fe1d');
    expect(KNOWN_DIGESTS.toString('hex', 0, 32)).toBe(sha256('a'));
    expect(KNOWN_DIGESTS.toString('hex', (first - 1) * 32, first * 32)).toBe(sha256('2099'));
  });

  it('refuses bytes that are not an encoded row', () => {
    expect(() => decodeRow(Buffer.from('[1]'))).toThrow(/not an encoded row/);
  });
});
