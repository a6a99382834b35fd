import { BinaryCopyWriter, COPY_BINARY_HEADER, COPY_BINARY_TRAILER, readBinaryCopyColumn } from '../../../src/db/binary-copy';

/** A one-column binary COPY stream of these values, written by the writer the staging uses. */
function stream(values: (Buffer | null)[]): Buffer {
  // A small first buffer, so the writer grows it.
  const copy = new BinaryCopyWriter(16);
  for (const value of values) {
    copy.tuple(1);
    if (value === null) {
      copy.null();
    } else {
      const at = copy.field(value.length);
      value.copy(copy.target, at);
    }
  }
  return Buffer.concat([COPY_BINARY_HEADER, copy.tuples, COPY_BINARY_TRAILER]);
}

describe('BinaryCopyWriter', () => {
  it('ends the last field short of its length, and no other', () => {
    const copy = new BinaryCopyWriter(16);
    copy.tuple(2);
    const first = copy.field(3);
    copy.target.write('abc', first, 'latin1');
    const second = copy.field(10);
    copy.target.write('xyz', second, 'latin1');
    expect(() => copy.endLastField(first, first + 1)).toThrow('only the last field');
    expect(() => copy.endLastField(second, second + 11)).toThrow('only the last field');
    expect(() => copy.endLastField(second, second - 1)).toThrow('only the last field');
    copy.endLastField(second, second + 2);
    copy.tuple(1).null();
    expect(copy.tuples.readInt32BE(2 + 4 + 3)).toBe(2);
    expect(copy.tuples.toString('latin1', 2 + 4 + 3 + 4, 2 + 4 + 3 + 4 + 2)).toBe('xy');
    expect(copy.tuples.length).toBe(2 + 4 + 3 + 4 + 2 + 2 + 4);
  });
});

describe('readBinaryCopyColumn', () => {
  it('reads every value of a one-column stream, NULL and empty ones too', () => {
    const values = [Buffer.from('first'), null, Buffer.alloc(0), Buffer.alloc(70_000, 7)];
    expect(readBinaryCopyColumn(stream(values))).toEqual(values);
    expect(readBinaryCopyColumn(stream([]))).toEqual([]);
  });

  it('skips a header extension', () => {
    const withExtension = Buffer.concat([COPY_BINARY_HEADER.subarray(0, 15), Buffer.from([0, 0, 0, 3, 1, 2, 3])]);
    const plain = stream([Buffer.from('x')]);
    expect(readBinaryCopyColumn(Buffer.concat([withExtension, plain.subarray(19)]))).toEqual([Buffer.from('x')]);
  });

  it('refuses what is not a whole one-column stream', () => {
    const whole = stream([Buffer.from('abc')]);
    expect(() => readBinaryCopyColumn(Buffer.from('abc\tdef\n'))).toThrow('not a binary COPY stream');
    expect(() => readBinaryCopyColumn(whole.subarray(0, whole.length - 2))).toThrow('ends inside a tuple');
    expect(() => readBinaryCopyColumn(whole.subarray(0, whole.length - 4))).toThrow('ends inside a tuple');
    const twoColumns = Buffer.from(whole);
    twoColumns.writeInt16BE(2, 19);
    expect(() => readBinaryCopyColumn(twoColumns)).toThrow('2 columns, not 1');
    const negativeLength = Buffer.from(whole);
    negativeLength.writeInt32BE(-6, 21);
    expect(() => readBinaryCopyColumn(negativeLength)).toThrow('field of length -6');
    const withOids = Buffer.from(whole);
    withOids.writeUInt32BE(1 << 16, 11);
    expect(() => readBinaryCopyColumn(withOids)).toThrow('OIDs or unknown critical flags');
    const ignorableFlag = Buffer.from(whole);
    ignorableFlag.writeUInt32BE(1 << 20, 11);
    expect(readBinaryCopyColumn(ignorableFlag)).toEqual([Buffer.from('abc')]);
    const negativeExtension = Buffer.from(whole);
    negativeExtension.writeInt32BE(-19, 15);
    expect(() => readBinaryCopyColumn(negativeExtension)).toThrow('negative header extension');
  });
});
