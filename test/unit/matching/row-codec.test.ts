import fc from 'fast-check';
import { decodeRow, encodeRow, rowsJson } from '../../../src/matching/row-codec';

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

  it('refuses bytes that are not an encoded row', () => {
    expect(() => decodeRow(Buffer.from('[1]'))).toThrow(/not an encoded row/);
  });
});
