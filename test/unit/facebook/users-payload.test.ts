import { buildUsersRequestBody, MAX_ROWS_PER_USERS_REQUEST } from '../../../src/facebook';
import { jsonText } from '../../support/json-text';

const HASH = 'f1904cf1a9d73a55fa5de0ac823c4403ded71afd4c3248d00bdcd0866552bb79';

const batchOf = (schema: string[], rowsJson: string[]) => ({
  schema,
  rowCount: rowsJson.length,
  rowsJson: jsonText(rowsJson.join(',')),
});
const parsed = (body: Buffer) => JSON.parse(body.toString('utf8'));

describe('buildUsersRequestBody', () => {
  it('assembles Meta\'s payload with is_raw and the rows as given', () => {
    const body = buildUsersRequestBody(
      batchOf(['EMAIL', 'PHONE'], [`["${HASH}",""]`, `["","${HASH}"]`]),
      undefined,
      'EAAtoken',
    );
    expect(parsed(body)).toEqual({
      payload: { schema: ['EMAIL', 'PHONE'], is_raw: true, data: [[HASH, ''], ['', HASH]] },
      access_token: 'EAAtoken',
    });
  });

  it('adds the session when one is given', () => {
    const body = buildUsersRequestBody(batchOf(['EXTERN_ID'], ['["a"]']), { sessionId: 42, batchSeq: 3, lastBatch: true, estimatedTotal: 25_000 }, 't');
    expect(parsed(body).session).toEqual({ session_id: 42, batch_seq: 3, last_batch_flag: true, estimated_num_total: 25_000 });
  });

  it('escapes the token as JSON text', () => {
    expect(parsed(buildUsersRequestBody(batchOf(['EXTERN_ID'], ['["a"]']), undefined, 'a"b\\c')).access_token).toBe('a"b\\c');
  });

  it('refuses rows that write more or less than they announced', () => {
    const batch = batchOf(['EXTERN_ID'], ['["a"]']);
    for (const byteLength of [4, 6]) {
      expect(() => buildUsersRequestBody({ ...batch, rowsJson: { ...batch.rowsJson, byteLength } }, undefined, 't')).toThrow(RangeError);
    }
  });

  it.each([
    ['no rows', batchOf(['EMAIL'], [])],
    ['too many rows', batchOf(['EMAIL'], Array.from({ length: MAX_ROWS_PER_USERS_REQUEST + 1 }, () => '[""]'))],
    ['no schema', batchOf([], ['[]'])],
  ])('refuses a batch with %s', (_case, batch) => {
    expect(() => buildUsersRequestBody(batch, undefined, 't')).toThrow(RangeError);
  });

  it.each([
    { sessionId: 0, batchSeq: 1, lastBatch: false },
    { sessionId: 1.5, batchSeq: 1, lastBatch: false },
    { sessionId: 1, batchSeq: 0, lastBatch: false },
  ])('refuses the session %j', (session) => {
    expect(() => buildUsersRequestBody(batchOf(['EXTERN_ID'], ['["a"]']), session, 't')).toThrow(RangeError);
  });
});
