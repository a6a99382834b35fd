/**
 * The compact form in which audience-sync stores an upload row: about half the size of its JSON text, because a
 * SHA-256 takes 32 bytes instead of 64 hex characters. Each cell is a tag byte, then:
 *   0  empty (`""`),
 *   1  a lowercase hex SHA-256, stored as its 32 bytes,
 *   2  any other text (EXTERN_ID, MADID): its UTF-8 length as two bytes, big-endian, then the bytes.
 * `rowJson` gives back exactly `JSON.stringify(row)`, the text uploaded to Meta.
 */
const EMPTY = 0;
const SHA256 = 1;
const TEXT = 2;
const SHA256_HEX = /^[0-9a-f]{64}$/;
const MAX_TEXT_BYTES = 0xffff;

export function encodeRow(row: readonly string[]): Buffer {
  // Each cell is classified once: the first pass sizes the buffer, the second fills it.
  const tags = new Uint8Array(row.length);
  let size = 0;
  row.forEach((cell, i) => {
    tags[i] = cell === '' ? EMPTY : SHA256_HEX.test(cell) ? SHA256 : TEXT;
    size += tags[i] === EMPTY ? 1 : tags[i] === SHA256 ? 33 : 3 + Buffer.byteLength(cell, 'utf8');
  });
  const encoded = Buffer.allocUnsafe(size);
  let offset = 0;
  row.forEach((cell, i) => {
    encoded[offset++] = tags[i];
    if (tags[i] === SHA256) {
      offset += encoded.write(cell, offset, 'hex');
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
  let offset = 0;
  while (offset < encoded.length) {
    const tag = encoded[offset++];
    if (tag === EMPTY) {
      row.push('');
    } else if (tag === SHA256) {
      row.push(encoded.toString('hex', offset, offset + 32));
      offset += 32;
    } else if (tag === TEXT) {
      const length = encoded.readUInt16BE(offset);
      offset += 2;
      row.push(encoded.toString('utf8', offset, offset + length));
      offset += length;
    } else {
      throw new Error(`not an encoded row (cell tag ${tag} at byte ${offset - 1})`);
    }
  }
  return row;
}

export function rowJson(encoded: Buffer): string {
  return JSON.stringify(decodeRow(encoded));
}
