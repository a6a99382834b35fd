/**
 * PostgreSQL's binary COPY format (COPY ... FROM STDIN (FORMAT binary)): half the bytes of COPY text for rows of
 * hashes, and neither side spends time on hex. A stream is the header, any number of tuples, then the trailer;
 * every integer is big-endian, and every field is its four-byte length (-1 for NULL) followed by its data.
 */
export const COPY_BINARY_HEADER = Buffer.concat([Buffer.from('PGCOPY\n\xff\r\n\0', 'latin1'), Buffer.alloc(8)]);
export const COPY_BINARY_TRAILER = Buffer.from([0xff, 0xff]);

const BYTEA_OID = 17;

/** Bytes each part of a tuple takes, so that a chunk of tuples can be written into one exactly sized Buffer. */
export const binarySize = {
  tuple: 2,
  null: 4,
  int4: 8,
  int8: 12,
  bytes: (length: number): number => 4 + length,
  /** A one-dimensional bytea[] of `count` elements of `elementBytes` bytes in all. */
  byteaArray: (count: number, elementBytes: number): number => 4 + (count === 0 ? 12 : 20) + 4 * count + elementBytes,
};

/** Writes tuples into a Buffer sized with binarySize. */
export class BinaryCopyWriter {
  offset = 0;

  constructor(readonly buffer: Buffer) {}

  tuple(fieldCount: number): this {
    this.offset = this.buffer.writeInt16BE(fieldCount, this.offset);
    return this;
  }

  null(): this {
    this.offset = this.buffer.writeInt32BE(-1, this.offset);
    return this;
  }

  int4(value: number): this {
    this.offset = this.buffer.writeInt32BE(4, this.offset);
    this.offset = this.buffer.writeInt32BE(value, this.offset);
    return this;
  }

  int8(value: bigint): this {
    this.offset = this.buffer.writeInt32BE(8, this.offset);
    this.offset = this.buffer.writeBigInt64BE(value, this.offset);
    return this;
  }

  /** A bytea, or a text field given as its UTF-8 bytes. */
  bytes(value: Buffer): this {
    this.offset = this.buffer.writeInt32BE(value.length, this.offset);
    this.offset += value.copy(this.buffer, this.offset);
    return this;
  }

  byteaArray(elements: readonly Buffer[], elementBytes: number): this {
    this.offset = this.buffer.writeInt32BE(binarySize.byteaArray(elements.length, elementBytes) - 4, this.offset);
    // array_send: dimensions, has-nulls flag, element type, then the length and lower bound of the one dimension.
    this.offset = this.buffer.writeInt32BE(elements.length === 0 ? 0 : 1, this.offset);
    this.offset = this.buffer.writeInt32BE(0, this.offset);
    this.offset = this.buffer.writeInt32BE(BYTEA_OID, this.offset);
    if (elements.length > 0) {
      this.offset = this.buffer.writeInt32BE(elements.length, this.offset);
      this.offset = this.buffer.writeInt32BE(1, this.offset);
    }
    for (const element of elements) this.bytes(element);
    return this;
  }
}
