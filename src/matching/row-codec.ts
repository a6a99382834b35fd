import type { JsonText } from '../facebook/users-payload';

/**
 * The compact form in which audience-sync stores an upload row: about half the size of its JSON text, because a
 * SHA-256 takes 32 bytes instead of 64 hex characters. Each cell is a tag byte, then:
 *   0  empty (`""`),
 *   1  a lowercase hex SHA-256, stored as its 32 bytes,
 *   2  any other text (EXTERN_ID, MADID): its UTF-8 length as two bytes, big-endian, then the bytes.
 * `rowsJson` gives back exactly `JSON.stringify(row)` of each row, the text uploaded to Meta.
 */
const EMPTY = 0;
const SHA256 = 1;
const TEXT = 2;
const SHA256_HEX = /^[0-9a-f]{64}$/;
const MAX_TEXT_BYTES = 0xffff;

/**
 * `hashedSlots[i]` true says that cell i is known to be '' or a lowercase hex SHA-256, as buildMemberRows makes
 * the hashed keys' cells: checking that again for every cell of every row is a sixth of a cycle's encoding time.
 * Other cells are classified by what they hold, so a row encodes to the same bytes either way.
 */
export function encodeRow(row: readonly string[], hashedSlots: readonly boolean[] = []): Buffer {
  // Each cell is classified once: the first pass sizes the buffer, the second fills it.
  const tags = new Uint8Array(row.length);
  let size = 0;
  row.forEach((cell, i) => {
    tags[i] = cell === '' ? EMPTY : hashedSlots[i] === true || SHA256_HEX.test(cell) ? SHA256 : TEXT;
    size += tags[i] === EMPTY ? 1 : tags[i] === SHA256 ? 33 : 3 + Buffer.byteLength(cell, 'utf8');
  });
  const encoded = Buffer.allocUnsafe(size);
  let offset = 0;
  row.forEach((cell, i) => {
    encoded[offset++] = tags[i];
    if (tags[i] === SHA256) {
      // A vouched-for cell that is no hash would leave bytes of the row unwritten.
      if (encoded.write(cell, offset, 'hex') !== 32) throw new RangeError(`cell ${i} is not a SHA-256 in hex`);
      offset += 32;
    } else if (tags[i] === TEXT) {
      const length = Buffer.byteLength(cell, 'utf8');
      if (length > MAX_TEXT_BYTES) throw new RangeError(`a match key value is longer than ${MAX_TEXT_BYTES} bytes`);
      offset = encoded.writeUInt16BE(length, offset);
      offset += encoded.write(cell, offset, 'utf8');
    }
  });
  return encoded;
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
const HEX_DIGITS = Buffer.from('0123456789abcdef', 'latin1');

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
 * measure the body and fill it, so the text's layout is stated once.
 */
function writeRowsJson(rows: readonly Buffer[], json: Buffer | undefined, offset: number): number {
  const put = (byte: number): void => {
    if (json) json[offset] = byte;
    offset++;
  };
  rows.forEach((encoded, index) => {
    if (index > 0) put(COMMA);
    put(0x5b); // [
    let first = true;
    forEachCell(encoded, (tag, start, end) => {
      if (!first) put(COMMA);
      first = false;
      if (tag === TEXT) {
        const text = textJson(encoded, start, end);
        offset += json ? json.write(text, offset, 'utf8') : Buffer.byteLength(text);
        return;
      }
      put(QUOTE);
      if (json) {
        for (let i = start; i < end; i++) {
          json[offset++] = HEX_DIGITS[encoded[i] >> 4];
          json[offset++] = HEX_DIGITS[encoded[i] & 0x0f];
        }
      } else {
        offset += 2 * (end - start);
      }
      put(QUOTE);
    });
    put(0x5d); // ]
  });
  return offset;
}

const textJson = (encoded: Buffer, start: number, end: number): string => JSON.stringify(encoded.toString('utf8', start, end));

/** Calls `visit` with each cell's tag and the bounds of its bytes (empty for an empty cell). */
function forEachCell(encoded: Buffer, visit: (tag: number, start: number, end: number) => void): void {
  let offset = 0;
  while (offset < encoded.length) {
    const tag = encoded[offset++];
    if (tag === EMPTY) {
      visit(tag, offset, offset);
    } else if (tag === SHA256) {
      visit(tag, offset, offset + 32);
      offset += 32;
    } else if (tag === TEXT) {
      const length = encoded.readUInt16BE(offset);
      visit(tag, offset + 2, offset + 2 + length);
      offset += 2 + length;
    } else {
      throw new Error(`not an encoded row (cell tag ${tag} at byte ${offset - 1})`);
    }
  }
}
