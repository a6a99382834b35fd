/**
 * PostgreSQL's binary COPY format (COPY ... FROM STDIN (FORMAT binary)): half the bytes of COPY text for rows of
 * hashes, and neither side spends time on hex. A stream is the header, any number of tuples, then the trailer;
 * every integer is big-endian, and every field is its four-byte length (-1 for NULL) followed by its data.
 */
export const COPY_BINARY_HEADER = Buffer.concat([Buffer.from('PGCOPY\n\xff\r\n\0', 'latin1'), Buffer.alloc(8)]);
export const COPY_BINARY_TRAILER = Buffer.from([0xff, 0xff]);

/**
 * Writes tuples into a buffer that grows as they come, so a chunk's tuples are written once, as they are made.
 * `tuples` is what was written; every byte of it is written by the methods here or, for the room `field` leaves, by
 * its caller.
 */
export class BinaryCopyWriter {
  private buffer: Buffer;
  private offset = 0;

  /**
   * Writes into `memory` when it holds `capacity` bytes, which spares a chunk's allocation when its caller reuses
   * memory. Every buffer is an ArrayBuffer of its own, never a slice of Node's shared pool, so `tuples.buffer` can
   * be transferred to another thread and reused.
   */
  constructor(capacity = 64 * 1024, memory?: ArrayBuffer) {
    this.buffer =
      memory !== undefined && memory.byteLength >= capacity ? Buffer.from(memory) : Buffer.allocUnsafeSlow(capacity);
  }

  get tuples(): Buffer {
    return this.buffer.subarray(0, this.offset);
  }

  /** Where field bytes the caller writes go: read it after the last call that may have grown the buffer. */
  get target(): Buffer {
    return this.buffer;
  }

  tuple(fieldCount: number): this {
    const at = this.reserve(2);
    this.buffer.writeInt16BE(fieldCount, at);
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
    const at = this.reserve(8);
    this.buffer.writeBigInt64BE(value, at);
    return this;
  }

  /** A text field. */
  utf8(value: string): this {
    const length = Buffer.byteLength(value, 'utf8');
    this.int32(length);
    const at = this.reserve(length);
    this.buffer.write(value, at, 'utf8');
    return this;
  }

  /** A field of `length` bytes that the caller writes at the offset returned. */
  field(length: number): number {
    return this.int32(length).reserve(length);
  }

  /**
   * Ends the last field, which `field` reserved at `start`, at `end`, short of what was reserved: for data written
   * in full and then shortened in place.
   */
  endLastField(start: number, end: number): this {
    if (start + this.buffer.readInt32BE(start - 4) !== this.offset || end < start || end > this.offset) {
      throw new RangeError('only the last field can end short of its length');
    }
    this.buffer.writeInt32BE(end - start, start - 4);
    this.offset = end;
    return this;
  }

  /**
   * Room for `length` more bytes, growing the buffer if needed; returns where they start. Called before reading
   * `buffer` for the write: growing replaces the buffer.
   */
  private reserve(length: number): number {
    const start = this.offset;
    if (start + length > this.buffer.length) {
      const grown = Buffer.allocUnsafeSlow(Math.max(2 * this.buffer.length, start + length));
      this.buffer.copy(grown, 0, 0, start);
      this.buffer = grown;
    }
    this.offset = start + length;
    return start;
  }

  private int32(value: number): this {
    const at = this.reserve(4);
    this.buffer.writeInt32BE(value, at);
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
  // Flags: bits 0-15 are critical ones (none defined yet), bit 16 says tuples carry OIDs; the rest may be ignored.
  if ((data.readUInt32BE(11) & 0x1ffff) !== 0) throw new Error('binary COPY stream with OIDs or unknown critical flags');
  const extension = data.readInt32BE(15);
  if (extension < 0) throw new Error('binary COPY stream with a negative header extension');
  let offset = 19 + extension;
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
    if (length < 0) throw new Error(`binary COPY field of length ${length}`);
    if (offset + length > data.length) throw new Error('binary COPY stream ends inside a tuple');
    values.push(data.subarray(offset, offset + length));
    offset += length;
  }
}
