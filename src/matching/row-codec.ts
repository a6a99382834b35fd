import { AUDIENCE_SCHEMA } from './keys';
import { KNOWN_DIGEST_COUNT, KNOWN_DIGESTS, knownDigestNumber } from './known-digests';
import { SHA256_BYTES } from './sha256';
import type { JsonText } from '../facebook/users-payload';

/**
 * How audience-sync stores an upload row: less than half the size of its JSON text, because a SHA-256 takes 32 bytes
 * instead of 64 hex characters, or 2 when it is a known value's. Each cell is a tag byte, then:
 *   0  empty (`""`),
 *   1  a lowercase hex SHA-256, stored as its 32 bytes,
 *   2  any other text (EXTERN_ID, MADID): its UTF-8 length as two bytes, big-endian, then the bytes;
 *   3  a JSON value, for the cells after the match keys (the LDU columns): stored like text, uploaded unquoted;
 *   4  the SHA-256 of a known value (known-digests), stored as the value's number, two bytes, big-endian.
 * `encodeRow` writes a row's full form, without tag 4: its SHA-256 is the row's identity, so that rows stored before
 * tag 4 existed keep theirs. What is stored is its compact form (`compactRowInPlace`), which differs only where a
 * digest is known. Both are canonical: equal rows have equal bytes in each form. `rowsJson` gives back exactly
 * `JSON.stringify(row)` of each row, in either form, the text uploaded to Meta, with each JSON cell parsed first.
 */
const EMPTY = 0;
const SHA256 = 1;
const TEXT = 2;
const JSON_VALUE = 3;
const KNOWN_SHA256 = 4;
const KNOWN_SHA256_BYTES = 3;
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
  forEachCell(encoded, (tag, start, end) => {
    if (tag === SHA256) {
      row.push(encoded.toString('hex', start, end));
    } else if (tag === KNOWN_SHA256) {
      const digestStart = knownDigestStart(encoded, start);
      row.push(KNOWN_DIGESTS.toString('hex', digestStart, digestStart + SHA256_BYTES));
    } else {
      row.push(encoded.toString('utf8', start, end));
    }
  });
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
      // Once written into the request body, the rows' views are let go rather than held for the whole call: they
      // then die young instead of waiting in the old generation for a full collection. (Their memory is lent for
      // the call: see withUsersBatch.)
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
      // An empty cell, a digest, or a known value's digest: 0 or 32 bytes, written as hex in quotes.
      const digest = tag === KNOWN_SHA256 ? KNOWN_DIGESTS : encoded;
      const digestStart = tag === KNOWN_SHA256 ? knownDigestStart(encoded, start) : start;
      const digestEnd = tag === EMPTY ? digestStart : digestStart + SHA256_BYTES;
      if (words) {
        words.setUint8(at, QUOTE);
        // A digest has 32 bytes: an even count.
        for (let i = digestStart, out = at + 1; i < digestEnd; i += 2, out += 4) {
          words.setUint32(out, quads[(digest[i] << 8) | digest[i + 1]]);
        }
        words.setUint8(at + 1 + 2 * (digestEnd - digestStart), QUOTE);
      }
      at += 2 + 2 * (digestEnd - digestStart);
    }
    if (json) json[at] = CLOSE_BRACKET;
    at++;
  }
  return at;
}

const textJson = (encoded: Buffer, start: number, end: number): string => JSON.stringify(encoded.toString('utf8', start, end));

/** Where the digest of a known-digest cell whose number starts at `start` is in KNOWN_DIGESTS. */
function knownDigestStart(encoded: Buffer, start: number): number {
  const number = encoded.readUInt16BE(start);
  // A number this build does not know (a later one's) would otherwise upload a digest of zeros.
  if (number >= KNOWN_DIGEST_COUNT) throw new Error(`not a known digest's number at byte ${start - 1}`);
  return number * SHA256_BYTES;
}

/**
 * Rewrites the row whose full form (encodeRowInto) is `row[start, end)` into its compact form, in place, and returns
 * where the compact form ends: each digest of a known value becomes its number, and the bytes after it move up.
 */
export function compactRowInPlace(row: Buffer, start: number, end: number): number {
  let at = start;
  // Bytes from here up to the next known digest have not moved yet; they move in one piece.
  let unmoved = start;
  for (let cell = start; cell < end; ) {
    const cellEnd = cellEndAt(row, cell);
    const number = row[cell] === SHA256 ? knownDigestNumber(row, cell + 1) : -1;
    if (number >= 0) {
      if (at !== unmoved) row.copyWithin(at, unmoved, cell);
      at += cell - unmoved;
      row[at] = KNOWN_SHA256;
      row[at + 1] = number >> 8;
      row[at + 2] = number & 0xff;
      at += KNOWN_SHA256_BYTES;
      unmoved = cellEnd;
    }
    cell = cellEnd;
  }
  if (at !== unmoved) row.copyWithin(at, unmoved, end);
  return at + end - unmoved;
}

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
  return { tag, start: tag === TEXT || tag === JSON_VALUE ? offset + 3 : offset + 1, end: cellEndAt(encoded, offset) };
}

/** Where the cell whose tag byte is at `offset` ends: without cellAt's object, in compaction's loop over every row. */
function cellEndAt(encoded: Buffer, offset: number): number {
  const tag = encoded[offset];
  if (tag === EMPTY) return offset + 1;
  if (tag === SHA256) return offset + 1 + SHA256_BYTES;
  if (tag === TEXT || tag === JSON_VALUE) return offset + 3 + encoded.readUInt16BE(offset + 1);
  if (tag === KNOWN_SHA256) return offset + KNOWN_SHA256_BYTES;
  throw new Error(`not an encoded row (cell tag ${tag} at byte ${offset})`);
}
