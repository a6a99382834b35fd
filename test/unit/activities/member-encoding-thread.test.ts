import { transferableSymbol, valueSymbol } from 'piscina';
import encodeOnThread from '../../../src/activities/member-encoding-thread';
import { encodeMembers, type EncodedChunk } from '../../../src/activities/member-chunk-encoding';
import { FINGERPRINT_COLUMN } from '../../../src/db/source-query';

const chunk = {
  records: Array.from({ length: 50 }, (_, n) => ({ user_id: `m${n}`, [FINGERPRINT_COLUMN]: String(n), email: `a${n}@example.com` })),
};

describe('encodeOnThread', () => {
  it("hands the chunk back with its tuples' memory to transfer, the memory it was given when that was large enough", () => {
    const memory = new ArrayBuffer(1 << 20);
    const result = encodeOnThread({ chunk, options: {}, memory }) as unknown as Record<symbol, unknown>;
    const encoded = result[valueSymbol] as EncodedChunk;
    expect(result[transferableSymbol]).toBe(memory);
    expect(encoded.copyData.buffer).toBe(memory);
    expect(Buffer.from(encoded.copyData).equals(Buffer.from(encodeMembers(chunk, {}).copyData))).toBe(true);
  });

  it('transfers memory of its own when given none', () => {
    const result = encodeOnThread({ chunk, options: {} }) as unknown as Record<symbol, unknown>;
    expect(result[transferableSymbol]).toBe((result[valueSymbol] as EncodedChunk).copyData.buffer);
  });
});
