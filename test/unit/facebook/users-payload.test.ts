import { buildUsersRequestBody, MAX_ROWS_PER_USERS_REQUEST } from '../../../src/facebook';

const HASH = 'f1904cf1a9d73a55fa5de0ac823c4403ded71afd4c3248d00bdcd0866552bb79';

describe('buildUsersRequestBody', () => {
  it('assembles Meta\'s payload with is_raw and the rows as given', () => {
    const body = buildUsersRequestBody(
      { schema: ['EMAIL', 'PHONE'], rowsJson: [`["${HASH}",""]`, `["","${HASH}"]`] },
      undefined,
      'EAAtoken',
    );
    expect(JSON.parse(body)).toEqual({
      payload: { schema: ['EMAIL', 'PHONE'], is_raw: true, data: [[HASH, ''], ['', HASH]] },
      access_token: 'EAAtoken',
    });
  });

  it('adds the session when one is given', () => {
    const body = buildUsersRequestBody({ schema: ['EXTERN_ID'], rowsJson: ['["a"]'] }, { sessionId: 42, batchSeq: 3, lastBatch: true, estimatedTotal: 25_000 }, 't');
    expect(JSON.parse(body).session).toEqual({ session_id: 42, batch_seq: 3, last_batch_flag: true, estimated_num_total: 25_000 });
  });

  it('escapes the token as JSON text', () => {
    expect(JSON.parse(buildUsersRequestBody({ schema: ['EXTERN_ID'], rowsJson: ['["a"]'] }, undefined, 'a"b\\c')).access_token).toBe('a"b\\c');
  });

  it.each([
    ['no rows', { schema: ['EMAIL'], rowsJson: [] }],
    ['too many rows', { schema: ['EMAIL'], rowsJson: Array.from({ length: MAX_ROWS_PER_USERS_REQUEST + 1 }, () => '[""]') }],
    ['no schema', { schema: [], rowsJson: ['[]'] }],
  ])('refuses a batch with %s', (_case, batch) => {
    expect(() => buildUsersRequestBody(batch, undefined, 't')).toThrow(RangeError);
  });

  it.each([
    { sessionId: 0, batchSeq: 1, lastBatch: false },
    { sessionId: 1.5, batchSeq: 1, lastBatch: false },
    { sessionId: 1, batchSeq: 0, lastBatch: false },
  ])('refuses the session %j', (session) => {
    expect(() => buildUsersRequestBody({ schema: ['EXTERN_ID'], rowsJson: ['["a"]'] }, session, 't')).toThrow(RangeError);
  });
});
