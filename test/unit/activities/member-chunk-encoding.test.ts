import { createHash } from 'node:crypto';
import { encodeMemberChunk } from '../../../src/activities/member-chunk-encoding';
import { decodeRow, encodeRow } from '../../../src/matching/row-codec';
import { FINGERPRINT_COLUMN } from '../../../src/db/source-query';

const records = Array.from({ length: 300 }, (_, n) => ({
  user_id: `m${n}`,
  [FINGERPRINT_COLUMN]: String(n * 7919),
  email: n % 5 === 0 ? [`a${n}@example.com`, `b${n}@example.org`] : `a${n}@example.com`,
  external_id: n % 3 === 0 ? `crm-${n}` : null,
  city: 'Zürich',
  // Known values: their digests are stored compact, after the buffer has grown too.
  gender: n % 2 === 0 ? 'f' : 'male',
}));

/** The fields of each staged tuple: a tuple is its field count, then each field's length (-1: NULL) and bytes. */
function stagedTuples(data: Buffer): (Buffer | null)[][] {
  const tuples: (Buffer | null)[][] = [];
  for (let at = 0; at < data.length; ) {
    const fields: (Buffer | null)[] = [];
    const count = data.readInt16BE(at);
    at += 2;
    for (let field = 0; field < count; field++) {
      const length = data.readInt32BE(at);
      at += 4;
      fields.push(length < 0 ? null : data.subarray(at, at + length));
      at += Math.max(length, 0);
    }
    tuples.push(fields);
  }
  return tuples;
}

describe('encodeMemberChunk', () => {
  it('writes the same tuples whether its buffer starts large enough or has to grow many times', () => {
    const roomy = encodeMemberChunk(records, {}, 10_000_000);
    const growing = encodeMemberChunk(records, {}, 1);
    expect(Buffer.from(growing.copyData).equals(Buffer.from(roomy.copyData))).toBe(true);
    expect(roomy.copyData.byteLength).toBeGreaterThan(300 * 100);
    expect(roomy.sourceRows).toBe(300);
  });

  it('writes into memory it is given when that is large enough, and into its own otherwise, the same tuples', () => {
    const own = encodeMemberChunk(records, {}, 1_000_000);
    const memory = new ArrayBuffer(1_000_000);
    new Uint8Array(memory).fill(0xee);
    const reused = encodeMemberChunk(records, {}, 1_000_000, memory);
    expect(reused.copyData.buffer).toBe(memory);
    expect(reused.copyData.byteOffset).toBe(0);
    expect(Buffer.from(reused.copyData).equals(Buffer.from(own.copyData))).toBe(true);
    const small = new ArrayBuffer(1000);
    const grown = encodeMemberChunk(records, {}, 1_000_000, small);
    expect(grown.copyData.buffer).not.toBe(small);
    expect(Buffer.from(grown.copyData).equals(Buffer.from(own.copyData))).toBe(true);
  });

  it("lists a member's row hashes in its member tuple, one after the other, as its row tuples give them", () => {
    const tuples = stagedTuples(Buffer.from(encodeMemberChunk(records, {}).copyData));
    let member: (Buffer | null)[] | undefined;
    let listed: Buffer[] = [];
    const checkMember = () => member && expect(Buffer.concat(listed).equals(member[3] as Buffer)).toBe(true);
    for (const tuple of tuples) {
      if (tuple[4] === null) {
        checkMember();
        member = tuple;
        listed = [];
      } else listed.push(tuple[4]);
    }
    checkMember();
    expect(tuples.filter((tuple) => tuple[4] === null)).toHaveLength(300);
    expect(tuples.filter((tuple) => tuple[4] !== null)).toHaveLength(360);
  });

  it.each([
    [
      {},
      'eb61c4f451187e669bee5315542edb55eaf382531c7d967bbc742736183e68a3',
      'ae618ac600899677a4537dc1580be9efc34f798239eaaa18782b9e0fa43676ac',
    ],
    [
      { defaultCountry: 'gb' },
      'e3b50fff6e4884e8b3043b257758ed96600ea81add08858cdbe422d14cd5d850',
      '46712d56ea79a71d2c1555af561d486f8e1207d635bcfe5c514ff6a4367c86db',
    ],
  ])('stages the same bytes as the encoder always has (options %j)', (options, digest, rowsDigest) => {
    // A staged row's hash, the SHA-256 of its full form, is its identity in audience_rows: a change here would make
    // every stored row look new. The digest of the rows' hashes and full forms is the encoder's before it was
    // rewritten for speed (e11229f). The digests of everything staged have changed since where migration 9 made a
    // member tuple list its hashes one after the other instead of as an array, and where rows came to be stored
    // compact (known digests as their numbers).
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
    const rows = createHash('sha256');
    for (const [, , , , rowHash, rowData] of stagedTuples(Buffer.from(chunk.copyData))) {
      if (!rowHash || !rowData) continue;
      const full = encodeRow(decodeRow(rowData));
      expect(createHash('sha256').update(full).digest().equals(rowHash)).toBe(true);
      rows.update(rowHash).update(full);
    }
    expect(rows.digest('hex')).toBe(rowsDigest);
    expect(chunk.withoutUserId).toBe(1);
  });
});
