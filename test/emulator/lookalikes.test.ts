import { AD_ACCOUNT, API_VERSION, EmulatorTestKit, TOKEN, sha256, usersBatch } from './emulator-test-kit';

const kit = new EmulatorTestKit('lookalikes');

beforeAll(() => kit.start());
afterAll(() => kit.stop());
beforeEach(() => kit.admin('POST', '/_emulator/reset'));

/** POST /act_…/customaudiences with a JSON body, as any Graph client may send it. */
function create(params: Record<string, unknown>, adAccount = AD_ACCOUNT) {
  return kit.raw('POST', `/${API_VERSION}/${adAccount}/customaudiences`, {
    body: JSON.stringify({ access_token: TOKEN, name: 'An audience', ...params }),
  });
}

const errorOf = (answer: { status: number; json: Record<string, any> }) => ({
  status: answer.status,
  code: answer.json.error?.code,
  message: String(answer.json.error?.message ?? ''),
});

async function valueBasedAudience(): Promise<string> {
  const created = await create({ subtype: 'CUSTOM', customer_file_source: 'USER_PROVIDED_ONLY', is_value_based: 1 });
  expect(created.status).toBe(200);
  return String(created.json.id);
}

/** A customer list holding `count` people, each with COUNTRY `country`. */
async function seed(count: number, country: string, adAccount = AD_ACCOUNT): Promise<string> {
  const created = await create({ subtype: 'CUSTOM', customer_file_source: 'USER_PROVIDED_ONLY' }, adAccount);
  const id = String(created.json.id);
  const rows = Array.from({ length: count }, (_, i) => [sha256(`seed${i}@example.com`), sha256(country)]);
  await kit.client.addUsers(id, usersBatch(['EMAIL', 'COUNTRY'], rows));
  return id;
}

const lookalike = (origin: string, spec: Record<string, unknown>) =>
  create({ subtype: 'LOOKALIKE', origin_audience_id: origin, lookalike_spec: JSON.stringify(spec) });

describe('value-based audiences', () => {
  it('are created with is_value_based and say so', async () => {
    const id = await valueBasedAudience();
    expect(await kit.client.getCustomAudience(id, ['is_value_based', 'subtype'])).toMatchObject({ is_value_based: true, subtype: 'CUSTOM' });
    const listed = await kit.admin<Record<string, unknown>[]>('GET', '/_emulator/audiences');
    expect(listed.find((audience) => audience.id === id)).toMatchObject({ is_value_based: true, subtype: 'CUSTOM' });
  });

  it('take rows with an unhashed non-negative LOOKALIKE_VALUE, and refuse rows without one', async () => {
    const id = await valueBasedAudience();
    const answer = await kit.client.addUsers(id, usersBatch(['EMAIL', 'LOOKALIKE_VALUE'], [
      [sha256('a@example.com'), 44.5],
      [sha256('b@example.com'), 0],
      [sha256('c@example.com'), -1],
      [sha256('d@example.com'), '12'],
    ]));
    expect(answer.numInvalidEntries).toBe(2);
    expect((await kit.rowsOf(id)).rows).toEqual(expect.arrayContaining([[sha256('a@example.com'), 44.5], [sha256('b@example.com'), 0]]));
    const plain = await kit.raw('POST', `/${API_VERSION}/${id}/users`, {
      body: JSON.stringify({ access_token: TOKEN, payload: { schema: ['EMAIL'], is_raw: true, data: [[sha256('e@example.com')]] } }),
    });
    expect(errorOf(plain)).toMatchObject({ status: 400, code: 2650, message: expect.stringContaining('needs LOOKALIKE_VALUE') });
  });

  it('are the only audiences that take LOOKALIKE_VALUE', async () => {
    const id = await kit.createAudience();
    const valued = await kit.raw('POST', `/${API_VERSION}/${id}/users`, {
      body: JSON.stringify({
        access_token: TOKEN,
        payload: { schema: ['EMAIL', 'LOOKALIKE_VALUE'], is_raw: true, data: [[sha256('a@example.com'), 3]] },
      }),
    });
    expect(errorOf(valued)).toMatchObject({ status: 400, code: 2650, message: expect.stringContaining('only for value-based') });
  });
});

describe('lookalikes', () => {
  it('are built from a seed of 100 people in the country, listed with their seed and spec, and take no uploads', async () => {
    const origin = await seed(100, 'us');
    const created = await lookalike(origin, { type: 'custom_ratio', ratio: 0.01, country: 'US' });
    expect(created.status).toBe(200);
    const id = String(created.json.id);
    const read = await kit.client.getCustomAudience(id, ['subtype', 'lookalike_spec', 'approximate_count_lower_bound', 'operation_status']);
    expect(read).toMatchObject({
      subtype: 'LOOKALIKE',
      lookalike_spec: { type: 'custom_ratio', ratio: 0.01, country: 'US', origin: [{ id: origin }] },
      operation_status: { code: 200 },
    });
    expect(read.approximate_count_lower_bound).toBeGreaterThan(0);
    const listed = await kit.admin<Record<string, unknown>[]>('GET', '/_emulator/audiences');
    expect(listed.find((audience) => audience.id === id)).toMatchObject({
      subtype: 'LOOKALIKE',
      origin_audience_id: origin,
      lookalike_spec: { ratio: 0.01, country: 'US' },
    });
    const upload = await kit.raw('POST', `/${API_VERSION}/${id}/users`, {
      body: JSON.stringify({ access_token: TOKEN, payload: { schema: ['EMAIL'], is_raw: true, data: [[sha256('a@example.com')]] } }),
    });
    expect(errorOf(upload)).toMatchObject({ status: 400, code: 100 });
  });

  it.each([
    ['a ratio above 10%', { ratio: 0.2, country: 'US' }, 'ratio must be between 0.01 and 0.1'],
    ['a ratio below 1%', { ratio: 0.005, country: 'US' }, 'ratio must be between 0.01 and 0.1'],
    ['a country that is no ISO code', { ratio: 0.01, country: 'XX' }, 'ISO 3166-1 alpha-2'],
    ['no country', { ratio: 0.01 }, 'lookalike_spec'],
  ])('refuse %s', async (_case, spec, named) => {
    const origin = await seed(100, 'us');
    expect(errorOf(await lookalike(origin, spec))).toMatchObject({ status: 400, code: 100, message: expect.stringContaining(named) });
  });

  it('need a seed of this ad account with 100 people, 100 of them from the country unless international seeds are allowed', async () => {
    const small = await seed(99, 'us');
    expect(errorOf(await lookalike(small, { ratio: 0.01, country: 'US' }))).toMatchObject({
      code: 100,
      message: expect.stringContaining('at least 100 people to create'),
    });
    const british = await seed(100, 'gb');
    expect(errorOf(await lookalike(british, { ratio: 0.01, country: 'US' }))).toMatchObject({
      code: 100,
      message: expect.stringContaining('at least 100 people from US'),
    });
    expect((await lookalike(british, { ratio: 0.01, country: 'US', allow_international_seeds: true })).status).toBe(200);
    expect((await lookalike(british, { ratio: 0.03, country: 'GB' })).status).toBe(200);
    const elsewhere = await seed(100, 'us', 'act_7654321');
    expect(errorOf(await lookalike(elsewhere, { ratio: 0.01, country: 'US' }))).toMatchObject({
      code: 100,
      message: expect.stringContaining('origin_audience_id'),
    });
    expect(errorOf(await lookalike('99999999', { ratio: 0.01, country: 'US' }))).toMatchObject({ code: 100 });
  });

  it('keep their seed from being deleted (2656) until they are deleted themselves', async () => {
    const origin = await seed(100, 'us');
    const id = String((await lookalike(origin, { ratio: 0.01, country: 'US' })).json.id);
    const refused = await kit.raw('DELETE', `/${API_VERSION}/${origin}`, { query: { access_token: TOKEN } });
    expect(errorOf(refused)).toMatchObject({ status: 400, code: 2656 });
    await kit.client.deleteCustomAudience(id);
    await kit.client.deleteCustomAudience(origin);
  });
});
