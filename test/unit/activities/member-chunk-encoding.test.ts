import { encodeMemberChunk } from '../../../src/activities/member-chunk-encoding';
import { FINGERPRINT_COLUMN } from '../../../src/db/source-query';

const records = Array.from({ length: 300 }, (_, n) => ({
  user_id: `m${n}`,
  [FINGERPRINT_COLUMN]: String(n * 7919),
  email: n % 5 === 0 ? [`a${n}@example.com`, `b${n}@example.org`] : `a${n}@example.com`,
  external_id: n % 3 === 0 ? `crm-${n}` : null,
  city: 'Zürich',
}));

describe('encodeMemberChunk', () => {
  it('writes the same tuples whether its buffer starts large enough or has to grow many times', () => {
    const roomy = encodeMemberChunk(records, {}, 10_000_000);
    const growing = encodeMemberChunk(records, {}, 1);
    expect(Buffer.from(growing.copyData).equals(Buffer.from(roomy.copyData))).toBe(true);
    expect(roomy.copyData.byteLength).toBeGreaterThan(300 * 100);
    expect(roomy.sourceRows).toBe(300);
  });
});
