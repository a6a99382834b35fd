import { AUDIENCE_SCHEMA } from './keys';
import { SHA256_BYTES } from './sha256';
import type { JsonText } from '../facebook/users-payload';

/**
 * The compact form in which audience-sync stores an upload row: about half the size of its JSON text, because a
 * SHA-256 takes 32 bytes instead of 64 hex characters. Each cell is a tag byte, then:
 *   0  empty (`""`),
 *   1  a lowercase hex SHA-256, stored as its 32 bytes,
 *   2  any other text (EXTERN_ID, MADID): its UTF-8 length as two bytes, big-endian, then the bytes;
 *   3  a JSON value, for the cells after the match keys (the LDU columns): stored like text, uploaded unquoted.
 * `rowsJson` gives back exactly `JSON.stringify(row)` of each row, the text uploaded to Meta, with each JSON cell
 * parsed first.
 */
const EMPTY = 0;
const SHA256 = 1;
const TEXT = 2;
const JSON_VALUE = 3;
/** Cells from this index on hold JSON values (see keys.ts: the match keys come first). */
const FIRST_JSON_CELL = AUDIENCE_SCHEMA.length;
const SHA256_HEX = /^[0-9a-f]{64}$/;
const MAX_TEXT_BYTES = 0xffff;

/** Reused by every call (encoding is synchronous): a typed array per row is a measurable share of staging. */
const scratchTags = new Uint8Array(32);

/**
 * `hashedSlots[i]` true says that cell i is known to be '' or a SHA-256 digest as its 32 bytes in a one-byte
 * string, as buildMemberRows makes the hashed keys' cells when asked for `digests: 'bytes'`: they are copied as
 * they are, without checking or decoding hex for every cell of every row. Other cells are classified by what they
 * hold (a lowercase hex SHA-256 or text), so a row encodes to the same bytes whichever form its digests had.
 */
export function encodeRow(row: readonly string[], hashedSlots: readonly boolean[] = []): Buffer {
  let encoded: Buffer | undefined;
  encodeRowInto(row, hashedSlots, (size) => {
    encoded = Buffer.allocUnsafe(size);
    return { buffer: encoded, offset: 0 };
  });
  return encoded as Buffer;
}

/**
 * encodeRow, written where `place` says: it is given the encoded size and returns the buffer, with room for that
 * many bytes at the offset it returns too. Every one of those bytes is written.
 */
export function encodeRowInto(
  row: readonly string[],
  hashedSlots: readonly boolean[],
  place: (size: number) => { buffer: Buffer; offset: number },
): void {
  // Each cell is classified once: the first pass sizes the row, the second writes it.
  const tags = row.length <= scratchTags.length ? scratchTags : new Uint8Array(row.length);
  let size = 0;
  row.forEach((cell, i) => {
    tags[i] =
      i >= FIRST_JSON_CELL ? JSON_VALUE : cell === '' ? EMPTY : hashedSlots[i] === true || SHA256_HEX.test(cell) ? SHA256 : TEXT;
    size += tags[i] === EMPTY ? 1 : tags[i] === SHA256 ? 1 + SHA256_BYTES : 3 + Buffer.byteLength(cell, 'utf8');
  });
  const { buffer: encoded, offset: start } = place(size);
  let offset = start;
  row.forEach((cell, i) => {
    encoded[offset++] = tags[i] as number;
    if (tags[i] === SHA256) {
      // A vouched-for cell that is no digest would leave bytes of the row unwritten.
      let written = 0;
      if (hashedSlots[i] !== true) written = encoded.write(cell, offset, 'hex');
      else if (cell.length === SHA256_BYTES) written = encoded.write(cell, offset, 'latin1');
      if (written !== SHA256_BYTES) throw new RangeError(`cell ${i} is not a SHA-256 digest`);
      offset += SHA256_BYTES;
    } else if (tags[i] === TEXT || tags[i] === JSON_VALUE) {
      const length = Buffer.byteLength(cell, 'utf8');
      if (length > MAX_TEXT_BYTES) throw new RangeError(`a match key value is longer than ${MAX_TEXT_BYTES} bytes`);
      offset = encoded.writeUInt16BE(length, offset);
      offset += encoded.write(cell, offset, 'utf8');
    }
  });
  if (offset !== start + size) throw new Error(`a row took ${offset - start} bytes, not the ${size} computed`);
}

export function decodeRow(encoded: Buffer): string[] {
  const row: string[] = [];
  forEachCell(encoded, (tag, start, end) =>
    row.push(tag === SHA256 ? encoded.toString('hex', start, end) : encoded.toString('utf8', start, end)),
  );
  return row;
}

const QUOTE = 0x22;
const COMMA = 0x2c;
const OPEN_BRACKET = 0x5b;
const CLOSE_BRACKET = 0x5d;
const HEX_DIGITS = Buffer.from('0123456789abcdef', 'latin1');
/**
 * The four hex digits of every two bytes, as one big-endian word: a digest's 64 digits are then 16 writes, not 64
 * reads of a digit table and writes of a byte, which nearly halved the time writing a batch's JSON took (the largest
 * part of the worker's main thread in a first load). Built when the first rows are written, not when the module
 * loads: the hashing threads load it to encode rows and never write JSON, and building it took them 4–7 ms each.
 */
let hexQuads: Uint32Array | undefined;

function hexQuadTable(): Uint32Array {
  if (hexQuads === undefined) {
    hexQuads = new Uint32Array(0x10000);
    for (let pair = 0; pair < 0x10000; pair++) {
      hexQuads[pair] =
        (HEX_DIGITS[pair >> 12] << 24) | (HEX_DIGITS[(pair >> 8) & 0x0f] << 16) | (HEX_DIGITS[(pair >> 4) & 0x0f] << 8) | HEX_DIGITS[pair & 0x0f];
    }
  }
  return hexQuads;
}

/**
 * `rows.map((row) => JSON.stringify(decodeRow(row))).join(',')` as UTF-8 bytes, measured first and then written
 * straight into the request body: an upload batch is megabytes of JSON, and every copy of it would sit in memory
 * for the whole call.
 */
export function rowsJson(rows: readonly Buffer[]): JsonText {
  let unwritten: readonly Buffer[] | undefined = rows;
  return {
    byteLength: writeRowsJson(rows, undefined, 0),
    writeTo: (target, offset) => {
      // Once written into the request body, the rows are let go rather than held for the whole call: a batch's
      // Buffers then die young instead of waiting in the old generation for a full collection.
      if (!unwritten) throw new Error("A batch's rows are written once");
      const end = writeRowsJson(unwritten, target, offset);
      unwritten = undefined;
      return end;
    },
  };
}

/**
 * Writes the rows' JSON into `json` at `offset`, or, given no buffer, only counts its bytes: the same writes
 * measure the body and fill it, so the text's layout is stated once. One loop with the position in a local
 * variable, not a callback per cell: this writes every byte of every upload.
 */
function writeRowsJson(rows: readonly Buffer[], json: Buffer | undefined, offset: number): number {
  const words = json && new DataView(json.buffer, json.byteOffset, json.byteLength);
  const quads = hexQuadTable();
  let at = offset;
  for (let index = 0; index < rows.length; index++) {
    const encoded = rows[index];
    if (index > 0) {
      if (json) json[at] = COMMA;
      at++;
    }
    if (json) json[at] = OPEN_BRACKET;
    at++;
    let cell = 0;
    while (cell < encoded.length) {
      if (cell > 0) {
        if (json) json[at] = COMMA;
        at++;
      }
      const { tag, start, end } = cellAt(encoded, cell);
      cell = end;
      if (tag === TEXT || tag === JSON_VALUE) {
        const text = tag === TEXT ? textJson(encoded, start, end) : encoded.toString('utf8', start, end);
        at += json ? json.write(text, at, 'utf8') : Buffer.byteLength(text);
        continue;
      }
      if (words) {
        words.setUint8(at, QUOTE);
        // A digest has 32 bytes: an even count.
        for (let i = start, out = at + 1; i < end; i += 2, out += 4) words.setUint32(out, quads[(encoded[i] << 8) | encoded[i + 1]]);
        words.setUint8(at + 1 + 2 * (end - start), QUOTE);
      }
      at += 2 + 2 * (end - start);
    }
    if (json) json[at] = CLOSE_BRACKET;
    at++;
  }
  return at;
}

const textJson = (encoded: Buffer, start: number, end: number): string => JSON.stringify(encoded.toString('utf8', start, end));

/** Calls `visit` with each cell's tag and the bounds of its bytes (empty for an empty cell). */
function forEachCell(encoded: Buffer, visit: (tag: number, start: number, end: number) => void): void {
  for (let offset = 0; offset < encoded.length; ) {
    const { tag, start, end } = cellAt(encoded, offset);
    visit(tag, start, end);
    offset = end;
  }
}

/** The cell whose tag byte is at `offset`: its tag and the bounds of its bytes (empty for an empty cell). */
function cellAt(encoded: Buffer, offset: number): { tag: number; start: number; end: number } {
  const tag = encoded[offset];
  if (tag === EMPTY) return { tag, start: offset + 1, end: offset + 1 };
  if (tag === SHA256) return { tag, start: offset + 1, end: offset + 1 + SHA256_BYTES };
  if (tag === TEXT || tag === JSON_VALUE) return { tag, start: offset + 3, end: offset + 3 + encoded.readUInt16BE(offset + 1) };
  throw new Error(`not an encoded row (cell tag ${tag} at byte ${offset})`);
}
