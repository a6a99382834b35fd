import { API_VERSION, EmulatorTestKit, SCHEMA, TOKEN, personRow, usersBatch } from './emulator-test-kit';

const kit = new EmulatorTestKit('replace');

beforeAll(() => kit.start());
afterAll(() => kit.stop());
beforeEach(() => kit.admin('POST', '/_emulator/reset'));

const sortRows = (rows: unknown[][]) => rows.map((row) => JSON.stringify(row)).sort();
const rowsOf = (numbers: number[]) => numbers.map(personRow);
const range = (from: number, to: number) => Array.from({ length: to - from + 1 }, (_, i) => from + i);

interface Batch {
  session: number;
  seq: number;
  last?: boolean;
  numbers: number[];
  schema?: readonly string[];
  /** Rows as given, instead of `numbers` in SCHEMA's order. */
  rows?: unknown[][];
}

/** POST /{id}/usersreplace as a JSON body, the way Meta's replace guide shows it. */
function replace(id: string, batch: Batch) {
  return kit.raw('POST', `/${API_VERSION}/${id}/usersreplace`, {
    body: JSON.stringify({
      access_token: TOKEN,
      payload: { schema: [...(batch.schema ?? SCHEMA)], is_raw: true, data: batch.rows ?? rowsOf(batch.numbers) },
      session: { session_id: batch.session, batch_seq: batch.seq, last_batch_flag: batch.last ?? false },
    }),
  });
}

async function audienceWith(numbers: number[]): Promise<string> {
  const id = await kit.createAudience();
  await kit.client.addUsers(id, usersBatch(SCHEMA, rowsOf(numbers)));
  return id;
}

const status = async (id: string) =>
  ((await kit.client.getCustomAudience(id, ['operation_status'])) as { operation_status: { code: number } }).operation_status.code;
const held = async (id: string) => sortRows((await kit.rowsOf(id)).rows);
const errorOf = (answer: { status: number; json: Record<string, any> }) => ({
  status: answer.status,
  code: answer.json.error?.code,
  subcode: answer.json.error?.error_subcode,
});

describe('usersreplace', () => {
  it('swaps the whole membership when the last batch arrives, and not before', async () => {
    const id = await audienceWith(range(1, 5));
    const first = await replace(id, { session: 77, seq: 1, numbers: [4, 5, 6] });
    expect(first.status).toBe(200);
    expect(first.json).toMatchObject({ audience_id: id, session_id: '77', num_received: 3, num_invalid_entries: 0 });
    // Meanwhile the audience is as it was, says it is being replaced, and refuses /users.
    expect(await held(id)).toEqual(sortRows(rowsOf(range(1, 5))));
    expect(await status(id)).toBe(414);
    const add = await kit.raw('POST', `/${API_VERSION}/${id}/users`, {
      body: JSON.stringify({ access_token: TOKEN, payload: { schema: [...SCHEMA], is_raw: true, data: rowsOf([9]) } }),
    });
    expect(errorOf(add)).toEqual({ status: 400, code: 2650, subcode: 1870145 });

    const second = await replace(id, { session: 77, seq: 2, numbers: [7, 8] });
    expect(second.json).toMatchObject({ num_received: 5 });
    const last = await replace(id, { session: 77, seq: 3, last: true, numbers: [8, 9] });
    expect(last.json).toMatchObject({ num_received: 7 });

    expect(await held(id)).toEqual(sortRows(rowsOf([4, 5, 6, 7, 8, 9])));
    expect(await status(id)).toBe(200);
    expect(await kit.client.getCustomAudience(id, ['approximate_count_lower_bound'])).toMatchObject({
      approximate_count_lower_bound: 6,
    });
    // /users works again.
    await kit.client.removeUsers(id, usersBatch(SCHEMA, rowsOf([9])));
    expect(await held(id)).toEqual(sortRows(rowsOf([4, 5, 6, 7, 8])));
  });

  it('replaces in one batch that is both first and last', async () => {
    const id = await audienceWith(range(1, 3));
    expect((await replace(id, { session: 1, seq: 1, last: true, numbers: [3, 10] })).status).toBe(200);
    expect(await held(id)).toEqual(sortRows(rowsOf([3, 10])));
  });

  it('answers batches out of order with Meta\'s 2650 subcodes and changes nothing for them', async () => {
    const id = await audienceWith(range(1, 3));
    expect(errorOf(await replace(id, { session: 5, seq: 2, numbers: [4] }))).toEqual({ status: 400, code: 2650, subcode: 1870147 });
    expect(await status(id)).toBe(200);

    await replace(id, { session: 5, seq: 1, numbers: [4] });
    // Another session may not start while one runs.
    expect(errorOf(await replace(id, { session: 6, seq: 1, numbers: [5] }))).toEqual({ status: 400, code: 2650, subcode: 1870145 });
    await replace(id, { session: 5, seq: 2, last: true, numbers: [5] });
    // The session has ended: more batches of it are refused, whatever their number.
    expect(errorOf(await replace(id, { session: 5, seq: 3, numbers: [6] }))).toEqual({ status: 400, code: 2650, subcode: 1870159 });
    expect(errorOf(await replace(id, { session: 5, seq: 1, numbers: [6] }))).toEqual({ status: 400, code: 2650, subcode: 1870159 });
    expect(await held(id)).toEqual(sortRows(rowsOf([4, 5])));
    // A new session may start now.
    expect((await replace(id, { session: 6, seq: 1, last: true, numbers: [1] })).status).toBe(200);
    expect(await held(id)).toEqual(sortRows(rowsOf([1])));
  });

  it('starts a session over when its batch 1 comes again', async () => {
    const id = await audienceWith(range(1, 3));
    await replace(id, { session: 9, seq: 1, numbers: [4, 5] });
    await replace(id, { session: 9, seq: 2, numbers: [6] });
    const again = await replace(id, { session: 9, seq: 1, numbers: [7] });
    expect(again.json).toMatchObject({ num_received: 1 });
    await replace(id, { session: 9, seq: 2, last: true, numbers: [8] });
    expect(await held(id)).toEqual(sortRows(rowsOf([7, 8])));
  });

  it('ends a session that outruns its window with what it received, and says so to its next batch', async () => {
    await kit.admin('PATCH', '/_emulator/settings', { replaceWindowMs: 300 });
    const id = await audienceWith(range(1, 3));
    await replace(id, { session: 3, seq: 1, numbers: [4, 5] });
    await new Promise((resolve) => setTimeout(resolve, 400));
    // Meta ends the session whether or not anyone calls: the audience holds what the session received.
    expect(await held(id)).toEqual(sortRows(rowsOf([4, 5])));
    expect(await status(id)).toBe(200);
    expect(errorOf(await replace(id, { session: 3, seq: 2, last: true, numbers: [6] }))).toEqual({
      status: 400,
      code: 2650,
      subcode: 1870158,
    });
    expect(await held(id)).toEqual(sortRows(rowsOf([4, 5])));
  });

  it('keeps a session across a restart of the emulator', async () => {
    const id = await audienceWith(range(1, 3));
    await replace(id, { session: 11, seq: 1, numbers: [4] });
    await kit.restart();
    await replace(id, { session: 11, seq: 2, last: true, numbers: [5] });
    expect(await held(id)).toEqual(sortRows(rowsOf([4, 5])));
  });

  it('validates like /users: a session is required, and the schema keeps the audience\'s kind of data source', async () => {
    const id = await audienceWith(range(1, 3));
    const noSession = await kit.raw('POST', `/${API_VERSION}/${id}/usersreplace`, {
      body: JSON.stringify({ access_token: TOKEN, payload: { schema: [...SCHEMA], is_raw: true, data: rowsOf([1]) } }),
    });
    expect(errorOf(noSession)).toMatchObject({ status: 400, code: 100 });
    // A multi-key audience takes no single-key replace (reference §3.1's data source check).
    const singleKey = await kit.raw('POST', `/${API_VERSION}/${id}/usersreplace`, {
      body: JSON.stringify({
        access_token: TOKEN,
        payload: { schema: 'EMAIL_SHA256', data: [personRow(1)[0]] },
        session: { session_id: 1, batch_seq: 1, last_batch_flag: true },
      }),
    });
    expect(errorOf(singleKey)).toMatchObject({ status: 400, code: 2650 });
    expect(await status(id)).toBe(200);
  });

  it('loads a new set in another multi-key schema, which becomes the audience\'s at the swap', async () => {
    const id = await audienceWith(range(1, 3));
    const twoKeys = ['EMAIL', 'PHONE'];
    const first = await replace(id, { session: 5, seq: 1, numbers: [], schema: twoKeys, rows: [personRow(7).slice(0, 2)] });
    expect(first.status).toBe(200);
    // Every batch of a session has the session's schema.
    const other = await replace(id, { session: 5, seq: 2, numbers: [8] });
    expect(errorOf(other)).toMatchObject({ status: 400, code: 2650 });
    const last = await replace(id, { session: 5, seq: 3, last: true, numbers: [], schema: twoKeys, rows: [personRow(8).slice(0, 2)] });
    expect(last.status).toBe(200);
    const after = await kit.rowsOf(id);
    expect(after.schema).toEqual(twoKeys);
    expect(sortRows(after.rows)).toEqual(sortRows([personRow(7).slice(0, 2), personRow(8).slice(0, 2)]));
  });

  it('takes fault rules aimed at it, and /users rules that name /users alone leave it be', async () => {
    const id = await audienceWith(range(1, 3));
    await kit.admin('POST', '/_emulator/faults', [
      { fault: 'error', code: 2650, subcode: 1870148, nextCalls: 1, match: { path: '/usersreplace' } },
      { fault: 'error', code: 2, match: { pathPattern: '/users$' } },
    ]);
    expect(errorOf(await replace(id, { session: 2, seq: 1, numbers: [4] }))).toEqual({ status: 400, code: 2650, subcode: 1870148 });
    expect((await replace(id, { session: 2, seq: 1, last: true, numbers: [4] })).status).toBe(200);
    expect(await held(id)).toEqual(sortRows(rowsOf([4])));
  });
});
