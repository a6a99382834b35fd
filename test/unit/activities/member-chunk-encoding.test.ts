import { createHash } from 'node:crypto';
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

  it.each([
    [{}, 'de7c40213ab5f611205107a7a9e9826e54bd24bb1b3299eee5c2cddbcecddc49'],
    [{ defaultCountry: 'gb' }, '8e78313aefcd2695d0f951f3a51dacb480bbd9a2901ff77f8def925a66a01beb'],
  ])('stages the same bytes as the encoder always has (options %j)', (options, digest) => {
    // A staged row's bytes and their hash are its identity in audience_rows: a change here would make every
    // stored row look new. These digests come from the encoder before it was rewritten for speed (e11229f).
    const golden = [
      { user_id: 'u1', email: '  Mary.Smith@Example.COM ', phone: '(202) 309-5976', first_name: 'Mary',
        last_name: "O'Brien", gender: 'Female', birthday: '1990-02-03', city: 'New York', state: 'New York',
        zip: '10001-1234', country_code: 'US' },
      { user_id: 'u2', emails: ['a@example.com', 'b@example.org', 'a@example.com'], phone: '07700 900123',
        country: 'United Kingdom', first_name: 'Zoë', city: 'London' },
      { user_id: 'u3', email: 'F1904CF1A9D73A55FA5DE0AC823C4403DED71AFD4C3248D00BDCD0866552BB79', external_id: 'crm-42',
        idfa: '6D92078A-8246-4BA4-AE5B-76104861E7DC' },
      { user_id: 'u4', email: 'not an email', phone: '+0000000000' },
      { user_id: 'u5', phone: '+55 11 91234-5678',
        traits: {
          emails: ['x@example.com'],
          firstName: 'José',
          address: { city: 'São Paulo', postal_code: '01310-100', country: 'BR' },
        } },
      { user_id: 'ünïcödé-😀', email: 'e@example.com', dob: '12', gender: 'm', state: 'ca' },
      { user_id: '', email: 'nobody@example.com' },
      { user_id: 7, email: 'seven@example.com', zip: '94105', country_code: 'us', first_name: 'Li' },
      { user_id: 'u9', phone: '020 7946 0958', zip: 'SW1A 1AA', email: 'nine@example.com' },
    ].map((record, n) => ({
      ...record,
      [FINGERPRINT_COLUMN]: String(n === 5 ? -9007199254740993n : BigInt(n) * 1234567891011n),
    }));
    const chunk = encodeMemberChunk(golden, options);
    expect(createHash('sha256').update(chunk.copyData).digest('hex')).toBe(digest);
    expect(chunk.withoutUserId).toBe(1);
  });
});
