import { createHash } from 'node:crypto';
import { AD_ACCOUNT, API_VERSION, EmulatorTestKit, TOKEN, graphErrorOf, usersBatch } from './emulator-test-kit';

const kit = new EmulatorTestKit('audiences');

beforeAll(() => kit.start());
afterAll(() => kit.stop());
beforeEach(() => kit.admin('POST', '/_emulator/reset'));

describe('audience lifecycle through the client', () => {
  it('creates an empty CUSTOM audience and reads its fields back', async () => {
    const id = await kit.createAudience('Churned customers');
    expect(id).toMatch(/^\d+$/);

    const audience = await kit.client.getCustomAudience(id, [
      'id',
      'account_id',
      'name',
      'description',
      'subtype',
      'customer_file_source',
      'approximate_count_lower_bound',
      'operation_status',
      'delivery_status',
      'time_created',
    ]);
    expect(audience).toMatchObject({
      id,
      account_id: '1234567',
      name: 'Churned customers',
      description: 'created by a test',
      subtype: 'CUSTOM',
      customer_file_source: 'USER_PROVIDED_ONLY',
      approximate_count_lower_bound: -1,
      operation_status: { code: 410 },
      delivery_status: { code: 300 },
    });
    expect(audience['time_created']).toEqual(expect.any(Number));
  });

  it('accepts a bare ad account number as well as act_<number>', async () => {
    const { id } = await kit.client.createCustomAudience('1234567', {
      name: 'Bare',
      description: '',
      customerFileSource: 'PARTNER_PROVIDED_ONLY',
    });
    const [audience] = await kit.admin<Array<Record<string, unknown>>>('GET', '/_emulator/audiences');
    expect(audience).toEqual({
      id,
      name: 'Bare',
      ad_account_id: AD_ACCOUNT,
      subtype: 'CUSTOM',
      is_value_based: false,
      origin_audience_id: null,
      lookalike_spec: null,
      row_count: 0,
      description: '',
      deleted: false,
    });
  });

  it('lists every audience of the account across cursor pages, and only that account', async () => {
    const created: string[] = [];
    for (let n = 0; n < 105; n += 1) created.push(await kit.createAudience(`Audience ${n}`));
    await kit.client.createCustomAudience('act_999', { name: 'Other account', description: '', customerFileSource: 'USER_PROVIDED_ONLY' });

    const listed = await kit.client.listCustomAudiences(AD_ACCOUNT, ['id', 'name']);
    expect(listed.map((audience) => audience['id'])).toEqual(created);
    expect(listed[104]).toEqual({ id: created[104], name: 'Audience 104' });

    const calls = await kit.admin<Array<{ path: string }>>('GET', '/_emulator/calls');
    expect(calls.filter((call) => call.path.endsWith('/customaudiences') && call.path.includes(AD_ACCOUNT)).length).toBe(105 + 2);
  });

  it('pages with Graph defaults: 25 per page, cursors, and next only while more exist', async () => {
    for (let n = 0; n < 26; n += 1) await kit.createAudience(`Audience ${n}`);
    const first = await kit.raw('GET', `/${API_VERSION}/${AD_ACCOUNT}/customaudiences`, { query: { access_token: TOKEN } });
    expect(first.json['data']).toHaveLength(25);
    expect(Object.keys(first.json['data'][0])).toEqual(['id']);
    expect(first.json['paging'].next).toContain('after=');
    expect(first.json['paging'].next).not.toContain(TOKEN);

    const second = await kit.raw('GET', `/${API_VERSION}/${AD_ACCOUNT}/customaudiences`, {
      query: { access_token: TOKEN, after: first.json['paging'].cursors.after },
    });
    expect(second.json['data']).toHaveLength(1);
    expect(second.json['paging'].next).toBeUndefined();
  });

  it('renames an audience and keeps the description unless it is given', async () => {
    const id = await kit.createAudience('Old name');
    await kit.client.renameCustomAudience(id, 'New name');
    expect(await kit.client.getCustomAudience(id, ['name', 'description'])).toEqual({
      id,
      name: 'New name',
      description: 'created by a test',
    });
  });

  it('deletes an audience; afterwards it answers 100/33 everywhere and is no longer listed', async () => {
    const id = await kit.createAudience();
    await kit.client.deleteCustomAudience(id);

    const calls = [
      () => kit.client.getCustomAudience(id, ['name']),
      () => kit.client.renameCustomAudience(id, 'x'),
      () => kit.client.deleteCustomAudience(id),
      () => kit.client.addUsers(id, usersBatch(['EXTERN_ID'], [['a']])),
    ];
    for (const call of calls) {
      const error = await graphErrorOf(call());
      expect({ kind: error.kind, code: error.code, subcode: error.subcode }).toEqual({
        kind: 'audience_gone',
        code: 100,
        subcode: 33,
      });
    }
    expect(await kit.client.listCustomAudiences(AD_ACCOUNT, ['id'])).toEqual([]);
    const [admin] = await kit.admin<Array<{ deleted: boolean }>>('GET', '/_emulator/audiences');
    expect(admin?.deleted).toBe(true);
  });

  it('answers Meta\'s object-not-found message for an id that never existed', async () => {
    const response = await kit.raw('GET', `/${API_VERSION}/42`, { query: { access_token: TOKEN } });
    expect(response.status).toBe(400);
    expect(response.json['error']).toMatchObject({ code: 100, error_subcode: 33, type: 'GraphMethodException' });
    expect(response.json['error'].message).toContain("Object with ID '42' does not exist");
    expect(response.json['error'].fbtrace_id).toEqual(expect.any(String));
  });

  it('reports whether the Custom Audience terms are accepted', async () => {
    expect(await kit.client.getAdAccountTermsAccepted(AD_ACCOUNT)).toBe(true);
    await kit.admin('POST', `/_emulator/ad-accounts/${AD_ACCOUNT}/terms`, { accepted: false });
    expect(await kit.client.getAdAccountTermsAccepted(AD_ACCOUNT)).toBe(false);
    expect(await kit.client.getAdAccountTermsAccepted('act_555')).toBe(true);
  });
});

describe('request validation', () => {
  it('requires customer_file_source, as Meta has since 2018', async () => {
    const response = await kit.raw('POST', `/${API_VERSION}/${AD_ACCOUNT}/customaudiences`, {
      body: new URLSearchParams({ name: 'x', subtype: 'CUSTOM', access_token: TOKEN }).toString(),
      contentType: 'application/x-www-form-urlencoded',
    });
    expect(response.status).toBe(400);
    expect(response.json['error']).toMatchObject({ code: 100, message: '(#100) Missing parameter(s): customer_file_source' });
  });

  it.each([
    [{ subtype: 'WEBSITE', customer_file_source: 'USER_PROVIDED_ONLY' }, 'subtype'],
    [{ subtype: 'LOOKALIKE' }, 'origin_audience_id, lookalike_spec'],
    [{ subtype: 'CUSTOM', customer_file_source: 'SOMEONE_ELSE' }, 'customer_file_source'],
  ])('rejects create parameters %j', async (params, named) => {
    const response = await kit.raw('POST', `/${API_VERSION}/${AD_ACCOUNT}/customaudiences`, {
      body: JSON.stringify({ name: 'x', access_token: TOKEN, ...params }),
    });
    expect(response.json['error'].code).toBe(100);
    expect(response.json['error'].message).toContain(named);
  });

  it('answers 104 when no access token is sent, which the client treats as needing a person', async () => {
    const response = await kit.raw('GET', `/${API_VERSION}/${AD_ACCOUNT}/customaudiences`);
    expect(response.status).toBe(400);
    expect(response.json['error']).toMatchObject({
      code: 104,
      type: 'OAuthException',
      message: 'An access token is required to request this resource.',
    });
  });

  it.each([
    ['no version', `/${AD_ACCOUNT}/customaudiences`, 2635],
    ['an expired version', `/v19.0/${AD_ACCOUNT}/customaudiences`, 2635],
    ['a version that does not exist yet', `/v99.0/${AD_ACCOUNT}/customaudiences`, 2500],
  ])('answers Meta\'s envelope for a call with %s', async (_case, path, code) => {
    const response = await kit.raw('GET', path, { query: { access_token: TOKEN } });
    expect(response.status).toBe(400);
    expect(response.json['error'].code).toBe(code);
  });

  it('classifies a deprecated version as needing a person', async () => {
    const error = await graphErrorOf(kit.clientWith({ apiVersion: 'v20.0' }).listCustomAudiences(AD_ACCOUNT, ['id']));
    expect(error).toMatchObject({ kind: 'needs_person', code: 2635, subcodeName: 'api_version_deprecated' });
  });

  it('rejects a field the node does not have', async () => {
    const id = await kit.createAudience();
    const error = await graphErrorOf(kit.client.getCustomAudience(id, ['name', 'favourite_colour']));
    expect(error).toMatchObject({ kind: 'invalid_request', code: 100 });
    expect(error.message).toContain('favourite_colour');
  });

  it('only accepts the configured token when one is required', async () => {
    await kit.restart({ requiredToken: 'EAAtheonlyvalidtoken000000000' });
    try {
      const error = await graphErrorOf(kit.client.listCustomAudiences(AD_ACCOUNT, ['id']));
      expect(error).toMatchObject({ kind: 'needs_person', code: 190, subcodeName: 'access_token_invalid' });
      await expect(
        kit.clientWith({ accessToken: 'EAAtheonlyvalidtoken000000000' }).listCustomAudiences(AD_ACCOUNT, ['id']),
      ).resolves.toEqual([]);
    } finally {
      await kit.restart();
    }
  });
});

describe("Meta's view of an audience", () => {
  const email = (i: number) => [createHash('sha256').update(`person${i}@example.com`).digest('hex')];
  const VIEW = ['approximate_count_lower_bound', 'approximate_count_upper_bound', 'delivery_status', 'operation_status'];

  it('gives -1 before any upload, then the rows rounded down and up to two significant digits', async () => {
    const id = await kit.createAudience();
    expect(await kit.client.getCustomAudience(id, VIEW)).toMatchObject({
      approximate_count_lower_bound: -1,
      approximate_count_upper_bound: -1,
      delivery_status: { code: 300 },
      operation_status: { code: 410 },
    });
    await kit.client.addUsers(id, usersBatch(['EMAIL'], Array.from({ length: 5034 }, (_, i) => email(i))));
    expect(await kit.client.getCustomAudience(id, VIEW)).toMatchObject({
      approximate_count_lower_bound: 5000,
      approximate_count_upper_bound: 5100,
      delivery_status: { code: 200 },
      operation_status: { code: 200 },
    });
  });

  it('reports the size and statuses a test sets, until it sets them back with null', async () => {
    const id = await kit.createAudience();
    await kit.admin('PATCH', `/_emulator/audiences/${id}`, {
      approximate_count: { lower: 1000, upper: 1200 },
      delivery_status: { code: 400, description: 'Policy' },
    });
    const listed = (await kit.client.listCustomAudiences(AD_ACCOUNT, ['id', ...VIEW])).find((audience) => audience['id'] === id);
    expect(listed).toMatchObject({ approximate_count_lower_bound: 1000, approximate_count_upper_bound: 1200, delivery_status: { code: 400 } });
    await kit.admin('PATCH', `/_emulator/audiences/${id}`, { approximate_count: null, delivery_status: null });
    expect(await kit.client.getCustomAudience(id, VIEW)).toMatchObject({ approximate_count_lower_bound: -1, delivery_status: { code: 300 } });
    await kit.admin('PATCH', '/_emulator/audiences/999', { delivery_status: null }, [404]);
    await kit.admin('PATCH', `/_emulator/audiences/${id}`, { delivery_status: { code: 'x' } }, [400]);
  });

  it('counts each request by what it did and how it ended, for the metrics', async () => {
    const outcomes: string[] = [];
    const client = kit.clientWith({ onRequest: (operation, outcome) => outcomes.push(`${operation}:${outcome}`) });
    const id = await kit.createAudience();
    await client.getCustomAudience(id, ['name']);
    await graphErrorOf(client.getCustomAudience('999', ['name']));
    await kit.admin('POST', '/_emulator/faults', { fault: 'throttle', code: 80003, nextCalls: 1 });
    await graphErrorOf(client.addUsers(id, usersBatch(['EMAIL'], [email(1)])));
    await kit.admin('POST', '/_emulator/faults', { fault: 'error', code: 2, nextCalls: 1 });
    await graphErrorOf(client.removeUsers(id, usersBatch(['EMAIL'], [email(1)])));
    await client.listCustomAudiences(AD_ACCOUNT, ['id']);
    expect(outcomes).toEqual([
      'read_audience:ok',
      'read_audience:permanent',
      'add_users:throttled',
      'remove_users:transient',
      'list_audiences:ok',
    ]);
  });
});
