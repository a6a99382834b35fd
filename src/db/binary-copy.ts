/**
 * PostgreSQL's binary COPY format (COPY ... FROM STDIN (FORMAT binary)): half the bytes of COPY text for rows of
 * hashes, and neither side spends time on hex. A stream is the header, any number of tuples, then the trailer;
 * every integer is big-endian, and every field is its four-byte length (-1 for NULL) followed by its data.
 */
export const COPY_BINARY_HEADER = Buffer.concat([Buffer.from('PGCOPY\n\xff\r\n\0', 'latin1'), Buffer.alloc(8)]);
export const COPY_BINARY_TRAILER = Buffer.from([0xff, 0xff]);

const BYTEA_OID = 17;

/**
 * Writes tuples into `buffer`, or, given none, only counts their bytes: the same writes run twice, once to size a
 * chunk's buffer exactly and once to fill it, so the layout is stated in one place.
 */
export class BinaryCopyWriter {
  offset = 0;

  constructor(readonly buffer?: Buffer) {}

  tuple(fieldCount: number): this {
    if (this.buffer) this.buffer.writeInt16BE(fieldCount, this.offset);
    this.offset += 2;
    return this;
  }

  null(): this {
    return this.int32(-1);
  }

  int4(value: number): this {
    return this.int32(4).int32(value);
  }

  int8(value: bigint): this {
    this.int32(8);
    if (this.buffer) this.buffer.writeBigInt64BE(value, this.offset);
    this.offset += 8;
    return this;
  }

  /** A bytea, or a text field given as its UTF-8 bytes. */
  bytes(value: Buffer): this {
    this.int32(value.length);
    if (this.buffer) value.copy(this.buffer, this.offset);
    this.offset += value.length;
    return this;
  }

  /** A bytea given as a one-byte string (latin1), as digests come from sha256Bytes. */
  latin1(value: string): this {
    this.int32(value.length);
    if (this.buffer) this.buffer.write(value, this.offset, 'latin1');
    this.offset += value.length;
    return this;
  }

  /** A bytea[] of one-byte strings (see latin1). */
  latin1Array(elements: readonly string[]): this {
    let elementBytes = 0;
    for (const element of elements) elementBytes += 4 + element.length;
    // array_send: dimensions, has-nulls flag, element type, then the length and lower bound of the one dimension.
    if (elements.length === 0) return this.int32(12).int32(0).int32(0).int32(BYTEA_OID);
    this.int32(20 + elementBytes).int32(1).int32(0).int32(BYTEA_OID).int32(elements.length).int32(1);
    for (const element of elements) this.latin1(element);
    return this;
  }

  private int32(value: number): this {
    if (this.buffer) this.buffer.writeInt32BE(value, this.offset);
    this.offset += 4;
    return this;
  }
}

/**
 * The single column of every tuple of a whole binary COPY stream, as views into `data`; NULL as null. Refuses
 * anything else than exactly one column per tuple, or a stream cut short.
 */
export function readBinaryCopyColumn(data: Buffer): (Buffer | null)[] {
  const header = COPY_BINARY_HEADER.subarray(0, 11);
  if (data.length < 19 || !data.subarray(0, 11).equals(header)) throw new Error('not a binary COPY stream');
  let offset = 19 + data.readInt32BE(15);
  const values: (Buffer | null)[] = [];
  for (;;) {
    if (offset + 2 > data.length) throw new Error('binary COPY stream ends inside a tuple');
    const fields = data.readInt16BE(offset);
    offset += 2;
    if (fields === -1) return values;
    if (fields !== 1) throw new Error(`binary COPY tuple has ${fields} columns, not 1`);
    const length = data.readInt32BE(offset);
    offset += 4;
    if (length === -1) {
      values.push(null);
      continue;
    }
    if (offset + length > data.length) throw new Error('binary COPY stream ends inside a tuple');
    values.push(data.subarray(offset, offset + length));
    offset += length;
  }
}
