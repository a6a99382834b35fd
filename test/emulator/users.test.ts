import {
  API_VERSION,
  EmulatorTestKit,
  SCHEMA,
  TOKEN,
  graphErrorOf,
  personRow,
  usersBatch,
  sha256,
} from './emulator-test-kit';

const kit = new EmulatorTestKit('users');

beforeAll(() => kit.start());
afterAll(() => kit.stop());
beforeEach(() => kit.admin('POST', '/_emulator/reset'));

const batchOf = (numbers: number[]) => usersBatch(SCHEMA, numbers.map(personRow));
const sortRows = (rows: unknown[][]) => rows.map((row) => JSON.stringify(row)).sort();

describe('adding and removing rows', () => {
  it('adds rows with set semantics and holds exactly the rows sent', async () => {
    const id = await kit.createAudience();
    const first = await kit.client.addUsers(id, batchOf([1, 2, 3]));
    expect(first).toMatchObject({ audienceId: id, numReceived: 3, numInvalidEntries: 0, invalidEntrySamples: {} });
    expect(String(first.sessionId)).toMatch(/^\d+$/);

    // Adding held rows again is a no-op; one new row is added.
    await kit.client.addUsers(id, batchOf([2, 3, 4]));

    const held = await kit.rowsOf(id);
    expect(held.schema).toEqual([...SCHEMA]);
    expect(sortRows(held.rows)).toEqual(sortRows([1, 2, 3, 4].map(personRow)));
    const [listed] = await kit.admin<Array<{ row_count: number }>>('GET', '/_emulator/audiences');
    expect(listed?.row_count).toBe(4);
    expect(await kit.client.getCustomAudience(id, ['approximate_count_lower_bound', 'operation_status'])).toMatchObject({
      approximate_count_lower_bound: 4,
      operation_status: { code: 200 },
    });
  });

  it('removes rows with a real DELETE; removing rows not held changes nothing', async () => {
    const id = await kit.createAudience();
    await kit.client.addUsers(id, batchOf([1, 2, 3, 4]));
    const removal = await kit.client.removeUsers(id, batchOf([2, 4, 99]));
    expect(removal.numReceived).toBe(3);

    expect(sortRows((await kit.rowsOf(id)).rows)).toEqual(sortRows([1, 3].map(personRow)));
    const calls = await kit.admin<Array<{ method: string; path: string; rows: number }>>('GET', '/_emulator/calls');
    expect(calls.at(-1)).toMatchObject({ method: 'DELETE', path: `/${API_VERSION}/${id}/users`, rows: 3 });
  });

  it('returns rows in the same order however they were uploaded', async () => {
    const a = await kit.createAudience('a');
    const b = await kit.createAudience('b');
    await kit.client.addUsers(a, batchOf([1, 2, 3, 4, 5]));
    await kit.client.addUsers(b, batchOf([5, 3, 1]));
    await kit.client.addUsers(b, batchOf([4, 2]));
    expect((await kit.rowsOf(a)).rows).toEqual((await kit.rowsOf(b)).rows);
  });

  it('counts rows received so far in a session given by the client', async () => {
    const id = await kit.createAudience();
    const session = { sessionId: 777, batchSeq: 1, lastBatch: false, estimatedTotal: 5 };
    expect((await kit.client.addUsers(id, batchOf([1, 2, 3]), session)).numReceived).toBe(3);
    const last = await kit.client.addUsers(id, batchOf([4, 5]), { ...session, batchSeq: 2, lastBatch: true });
    expect(last).toMatchObject({ sessionId: '777', numReceived: 5 });
  });

  it('stores concurrent uploads to one audience completely', async () => {
    const id = await kit.createAudience();
    const batches = Array.from({ length: 8 }, (_, batch) => batchOf(Array.from({ length: 500 }, (_, n) => batch * 400 + n)));
    await Promise.all(batches.map((batch) => kit.client.addUsers(id, batch)));
    const [listed] = await kit.admin<Array<{ row_count: number }>>('GET', '/_emulator/audiences');
    expect(listed?.row_count).toBe(7 * 400 + 500);
    expect((await kit.rowsOf(id)).rows).toHaveLength(7 * 400 + 500);
  });

  it('takes a full 10,000-row batch, and the form-encoded payload Meta documents', async () => {
    const id = await kit.createAudience();
    const full = batchOf(Array.from({ length: 10_000 }, (_, n) => n));
    expect((await kit.client.addUsers(id, full)).numReceived).toBe(10_000);

    const formBody = new URLSearchParams({
      payload: JSON.stringify({ schema: SCHEMA, is_raw: true, data: [personRow(20_000)] }),
      access_token: TOKEN,
    });
    const response = await kit.raw('POST', `/${API_VERSION}/${id}/users`, {
      body: formBody.toString(),
      contentType: 'application/x-www-form-urlencoded',
    });
    expect(response.json).toMatchObject({ audience_id: id, num_received: 1 });
    expect((await kit.rowsOf(id)).rows).toHaveLength(10_001);
  });
});

describe('validation of /users payloads', () => {
  it('counts a malformed hash as an invalid entry, stores the rest, and echoes no value', async () => {
    const id = await kit.createAudience();
    const digest = sha256('x');
    // Not a digest: unhashed, upper case, a character short or too many, a non-hex letter, and a character whose
    // low byte is the hex digit '0' (U+0130).
    const malformed = [
      'person@example.com',
      digest.toUpperCase(),
      digest.slice(1),
      `${digest}0`,
      `g${digest.slice(1)}`,
      `\u0130${digest.slice(1)}`,
    ].map((email) => [email, '', '']);
    const empty = ['', '', ''];
    const answer = await kit.client.addUsers(id, usersBatch(SCHEMA, [personRow(1), ...malformed, empty, personRow(2)]));
    expect(answer.numReceived).toBe(9);
    expect(answer.numInvalidEntries).toBe(7);
    expect(Object.keys(answer.invalidEntrySamples)).toEqual(['1', '2', '3', '4', '5', '6', '7']);
    expect(JSON.stringify(answer.invalidEntrySamples)).not.toContain('person@example.com');
    expect(sortRows((await kit.rowsOf(id)).rows)).toEqual(sortRows([personRow(1), personRow(2)]));
  });

  it('counts text that is not valid Unicode as an invalid entry', async () => {
    const id = await kit.createAudience();
    const answer = await kit.client.addUsers(id, usersBatch(['EXTERN_ID'], [['crm-1'], ['crm-\ud800'], ['crm-😀']]));
    expect(answer.numInvalidEntries).toBe(1);
    expect(answer.invalidEntrySamples).toEqual({ '1': expect.stringContaining('EXTERN_ID') });
  });

  it('does not hash-check EXTERN_ID, and wants MADID unhashed', async () => {
    const id = await kit.createAudience();
    const answer = await kit.client.addUsers(id, usersBatch(['EXTERN_ID', 'MADID'], [
        ['crm-1', ''],
        ['', '6d92078a-8246-4ba4-ae5b-76104861e7dc'],
        ['', sha256('6d92078a-8246-4ba4-ae5b-76104861e7dc')],
      ]));
    expect(answer.numInvalidEntries).toBe(1);
    expect(answer.invalidEntrySamples).toEqual({ '2': expect.stringContaining('MADID') });
  });

  it.each([
    ['an unknown schema key', { schema: ['EMAIL', 'SHOE_SIZE'], is_raw: true, data: [['', '']] }, 'SHOE_SIZE'],
    ['a row shorter than the schema', { schema: ['EMAIL', 'PHONE'], is_raw: true, data: [[sha256('a')]] }, 'does not match schema'],
    ['a row that is not an array', { schema: ['EMAIL', 'PHONE'], is_raw: true, data: ['x'] }, 'does not match schema'],
    ['no rows', { schema: ['EMAIL'], is_raw: true, data: [] }, 'does not match schema'],
    ['a multi-key schema without is_raw', { schema: ['EMAIL', 'PHONE'], data: [['', '']] }, 'is_raw'],
  ])('rejects %s with code 100', async (_case, payload, named) => {
    const id = await kit.createAudience();
    const response = await kit.raw('POST', `/${API_VERSION}/${id}/users`, {
      body: JSON.stringify({ payload, access_token: TOKEN }),
    });
    expect(response.status).toBe(400);
    expect(response.json['error']).toMatchObject({ code: 100, type: 'OAuthException' });
    expect(response.json['error'].message).toContain(named);
  });

  it('answers a body that is not JSON in Meta\'s envelope without quoting it back', async () => {
    const id = await kit.createAudience();
    const secretish = `{"payload": {"schema": ["EMAIL"], "data": [["${sha256('leak')}"]]`;
    const response = await kit.raw('POST', `/${API_VERSION}/${id}/users`, { body: secretish });
    expect(response.status).toBe(400);
    expect(response.json['error'].code).toBe(100);
    expect(JSON.stringify(response.json)).not.toContain(sha256('leak'));
    const calls = await kit.admin<Array<{ path: string; code: number }>>('GET', '/_emulator/calls');
    expect(calls.at(-1)).toMatchObject({ path: `/${API_VERSION}/${id}/users`, code: 100 });
  });

  it('rejects a request without payload', async () => {
    const id = await kit.createAudience();
    const response = await kit.raw('POST', `/${API_VERSION}/${id}/users`, { body: JSON.stringify({ access_token: TOKEN }) });
    expect(response.json['error']).toMatchObject({ code: 100, message: '(#100) Missing parameter(s): payload' });
  });

  it('rejects 10,001 rows in one request with code 100 and stores none of them', async () => {
    const id = await kit.createAudience();
    const data = Array.from({ length: 10_001 }, (_, n) => personRow(n));
    const response = await kit.raw('POST', `/${API_VERSION}/${id}/users`, {
      body: JSON.stringify({ payload: { schema: SCHEMA, is_raw: true, data }, access_token: TOKEN }),
    });
    expect(response.json['error']).toMatchObject({ code: 100 });
    expect(response.json['error'].message).toContain('10000');
    expect((await kit.rowsOf(id)).rows).toEqual([]);
  });

  it('answers 2650 to an upload whose schema differs from the first upload, adds and removals alike', async () => {
    const id = await kit.createAudience();
    await kit.client.addUsers(id, batchOf([1]));
    const calls = [
      () => kit.client.addUsers(id, usersBatch(['EMAIL', 'PHONE'], [[sha256('a'), '']])),
      () => kit.client.removeUsers(id, usersBatch(['EXTERN_ID', 'EMAIL', 'PHONE'], [['m', '', '']])),
    ];
    for (const call of calls) {
      const error = await graphErrorOf(call());
      expect(error).toMatchObject({ kind: 'invalid_request', code: 2650, subcodeName: 'audience_update_failed' });
    }
    expect(await kit.client.getCustomAudience(id, ['data_source'])).toMatchObject({
      data_source: { type: 'FILE_IMPORTED', sub_type: 'MULTI_HASHES' },
    });
  });

  it('takes the LDU columns as JSON values, counts malformed ones as invalid, and returns them as stored', async () => {
    const id = await kit.createAudience();
    const schema = ['EMAIL', 'DATA_PROCESSING_OPTIONS', 'DATA_PROCESSING_OPTIONS_COUNTRY', 'DATA_PROCESSING_OPTIONS_STATE'];
    const answer = await kit.client.addUsers(id, usersBatch(schema, [
      [sha256('a'), ['LDU'], 1, 1000],
      [sha256('b'), [], 0, 0],
      [sha256('c'), ['LDU'], 0, 0],
      [sha256('d'), ['XYZ'], 0, 0],
      [sha256('e'), 'LDU', 0, 0],
      [sha256('f'), ['LDU'], '1', 1000],
      [sha256('g'), ['LDU'], 1, 999],
    ]));
    expect(answer.numInvalidEntries).toBe(4);
    expect(Object.values(answer.invalidEntrySamples).map(String).map((text) => text.split(' ')[0])).toEqual([
      'DATA_PROCESSING_OPTIONS',
      'DATA_PROCESSING_OPTIONS',
      'DATA_PROCESSING_OPTIONS_COUNTRY',
      'DATA_PROCESSING_OPTIONS_STATE',
    ]);
    const held = await kit.rowsOf(id);
    expect(held.schema).toEqual(schema);
    expect(held.rows).toEqual(expect.arrayContaining([[sha256('a'), ['LDU'], 1, 1000], [sha256('b'), [], 0, 0]]));
    expect(held.rows).toHaveLength(3);
  });

  it.each([
    ['a state without a country', ['EMAIL', 'DATA_PROCESSING_OPTIONS', 'DATA_PROCESSING_OPTIONS_STATE'], 'needs DATA_PROCESSING_OPTIONS_COUNTRY'],
    ['codes without the options', ['EMAIL', 'DATA_PROCESSING_OPTIONS_COUNTRY', 'DATA_PROCESSING_OPTIONS_STATE'], 'need DATA_PROCESSING_OPTIONS'],
  ])('rejects a schema with %s', async (_case, schema, named) => {
    const id = await kit.createAudience();
    const response = await kit.raw('POST', `/${API_VERSION}/${id}/users`, {
      body: JSON.stringify({ payload: { schema, is_raw: true, data: [schema.map(() => 0)] }, access_token: TOKEN }),
    });
    expect(response.status).toBe(400);
    expect(response.json['error']).toMatchObject({ code: 100 });
    expect(response.json['error'].message).toContain(named);
  });

  it('takes a legacy single-key schema with a flat data array', async () => {
    const id = await kit.createAudience();
    const response = await kit.raw('POST', `/${API_VERSION}/${id}/users`, {
      body: JSON.stringify({ payload: { schema: 'EMAIL_SHA256', data: [sha256('a'), sha256('b')] }, access_token: TOKEN }),
    });
    expect(response.json).toMatchObject({ num_received: 2, num_invalid_entries: 0 });
    expect(await kit.rowsOf(id)).toEqual({ schema: ['EMAIL_SHA256'], rows: expect.arrayContaining([[sha256('a')], [sha256('b')]]) });
  });
});

describe('minimum audience size', () => {
  it('refuses a removal that would leave fewer than minAudienceRows rows with a recognisable 200/1870047', async () => {
    await kit.restart({ minAudienceRows: 3 });
    try {
      const id = await kit.createAudience();
      await kit.client.addUsers(id, batchOf([1, 2, 3, 4]));
      await kit.client.removeUsers(id, batchOf([4]));

      const error = await graphErrorOf(kit.client.removeUsers(id, batchOf([3])));
      expect(error).toMatchObject({ kind: 'invalid_request', code: 200, subcode: 1870047 });
      expect(error.wouldLeaveAudienceTooSmall).toBe(true);
      expect((await kit.rowsOf(id)).rows).toHaveLength(3);

      // Removing rows that are not held removes nothing, so it is not refused.
      await expect(kit.client.removeUsers(id, batchOf([50]))).resolves.toMatchObject({ numReceived: 1 });
    } finally {
      await kit.restart();
    }
  });
});
