import path from 'node:path';
import type { createMemberEncoder as CreateMemberEncoder } from '../../src/activities/member-encoder';
import { encodeMembers } from '../../src/activities/member-chunk-encoding';
import { FINGERPRINT_COLUMN } from '../../src/db/source-query';

/**
 * The compiled encoder, whose hashing threads load the compiled thread file: run from the TypeScript sources, the
 * encoder has no thread file to load and encodes on the calling thread (npm test builds first).
 */
const COMPILED_ENCODER = path.resolve(__dirname, '../../dist/src/activities/member-encoder.js');
const { createMemberEncoder } = require(COMPILED_ENCODER) as { createMemberEncoder: typeof CreateMemberEncoder };

const chunk = {
  records: Array.from({ length: 500 }, (_, n) => ({ user_id: `m${n}`, [FINGERPRINT_COLUMN]: String(n), email: `a${n}@example.com` })),
};

describe('the hashing threads', () => {
  const encoder = createMemberEncoder(2);
  afterAll(() => encoder.close());

  it("move a chunk's memory both ways: the memory given is gone from this thread and comes back holding the tuples", async () => {
    const memory = new ArrayBuffer(1 << 20);
    const encoded = await encoder.encode(chunk, {}, memory);
    // Transferred to the thread, not copied: detached here.
    expect(memory.byteLength).toBe(0);
    expect(encoded.copyData.buffer.byteLength).toBe(1 << 20);
    expect(encoded.copyData.byteOffset).toBe(0);
    expect(Buffer.from(encoded.copyData).equals(Buffer.from(encodeMembers(chunk, {}).copyData))).toBe(true);
    expect(encoded.sourceRows).toBe(500);
  });

  it('encode into memory of their own when given none', async () => {
    const encoded = await encoder.encode(chunk, {});
    expect(Buffer.from(encoded.copyData).equals(Buffer.from(encodeMembers(chunk, {}).copyData))).toBe(true);
  });
});
