import type { GraphUsage } from '../../src/facebook';
import type { CallLogEntry, FaultRule } from '../../src/emulator';
import { parseFaultFlag } from '../../src/emulator';
import { AD_ACCOUNT, EmulatorTestKit, TOKEN, graphErrorOf, personRow, usersBatch } from './emulator-test-kit';

const kit = new EmulatorTestKit('faults');

beforeAll(() => kit.start());
afterAll(() => kit.stop());
beforeEach(() => kit.admin('POST', '/_emulator/reset'));

const oneRow = (n: number) => usersBatch(['EMAIL', 'PHONE', 'EXTERN_ID'], [personRow(n)]);
const addFault = (rule: FaultRule) => kit.admin('POST', '/_emulator/faults', rule);

describe('each fault kind surfaces as the right GraphApiError', () => {
  it.each<[string, FaultRule, Record<string, unknown>]>([
    ['transient code 1', { fault: 'error', code: 1 }, { kind: 'retryable', code: 1, httpStatus: 500, isTransient: true }],
    ['transient code 2', { fault: 'error', code: 2 }, { kind: 'retryable', code: 2, httpStatus: 500 }],
    ['a bare HTTP 502', { fault: 'http_5xx', httpStatus: 502 }, { kind: 'retryable', code: undefined, httpStatus: 502 }],
    ['app limit 4', { fault: 'error', code: 4 }, { kind: 'throttled', code: 4, retryAfterMs: 60_000 }],
    ['account limit 17', { fault: 'throttle', code: 17 }, { kind: 'throttled', code: 17, subcode: 2446079 }],
    ['score limit 613/1487742', { fault: 'throttle', code: 613 }, { kind: 'throttled', code: 613, subcode: 1487742 }],
    [
      'custom audience BUC limit 80003',
      { fault: 'throttle', retryAfterMinutes: 3 },
      { kind: 'throttled', code: 80003, subcode: 2446079, retryAfterMs: 180_000 },
    ],
    ['613 without subcode', { fault: 'error', code: 613 }, { kind: 'needs_person', subcodeName: 'abuse_prevention' }],
    [
      'a token invalidated by a password change',
      { fault: 'error', code: 190, subcode: 460 },
      { kind: 'needs_person', code: 190, subcode: 460, subcodeName: 'access_token_invalid' },
    ],
    [
      'terms not accepted',
      { fault: 'error', code: 200, subcode: 1870034 },
      { kind: 'needs_person', httpStatus: 403, subcodeName: 'custom_audience_terms_not_accepted' },
    ],
    ['audience not found', { fault: 'error', code: 100, subcode: 33 }, { kind: 'audience_gone', subcode: 33 }],
    ['data source mismatch', { fault: 'error', code: 2650 }, { kind: 'invalid_request', code: 2650 }],
    [
      'audience size too low',
      { fault: 'error', code: 200, subcode: 1870047 },
      { kind: 'invalid_request', wouldLeaveAudienceTooSmall: true },
    ],
  ])('%s', async (_case, rule, expected) => {
    const id = await kit.createAudience();
    await addFault({ ...rule, match: { path: '/users' } });
    const error = await graphErrorOf(kit.client.addUsers(id, oneRow(1)));
    expect(error).toMatchObject(expected);
    expect(error.message).not.toContain(TOKEN);
    expect((await kit.rowsOf(id)).rows).toEqual([]);
  });

  it('drops the connection before applying the change', async () => {
    const id = await kit.createAudience();
    await addFault({ fault: 'drop_connection', match: { method: 'POST', path: '/users' } });
    const error = await graphErrorOf(kit.client.addUsers(id, oneRow(1)));
    expect(error).toMatchObject({ kind: 'retryable', subcodeName: 'network_error', httpStatus: undefined });
    expect((await kit.rowsOf(id)).rows).toEqual([]);
  });

  it('drops the connection after applying the change: a lost acknowledgement', async () => {
    const id = await kit.createAudience();
    await addFault({ fault: 'drop_connection', drop: 'after', nextCalls: 1 });
    const error = await graphErrorOf(kit.client.addUsers(id, oneRow(1)));
    expect(error).toMatchObject({ kind: 'retryable', subcodeName: 'network_error' });
    expect((await kit.rowsOf(id)).rows).toEqual([personRow(1)]);

    // The retry succeeds and, by set semantics, changes nothing.
    await kit.client.addUsers(id, oneRow(1));
    expect((await kit.rowsOf(id)).rows).toEqual([personRow(1)]);
    const calls = await kit.admin<CallLogEntry[]>('GET', '/_emulator/calls');
    expect(calls.slice(-2).map((call) => [call.status, call.fault])).toEqual([
      [null, 'drop_connection:after'],
      [200, undefined],
    ]);
  });

  it('answers slowly: a client with a shorter timeout sees a retryable timeout', async () => {
    const id = await kit.createAudience();
    await addFault({ fault: 'slow', delayMs: 1_000, nextCalls: 1 });
    const error = await graphErrorOf(kit.clientWith({ timeoutMs: 200 }).getCustomAudience(id, ['name']));
    expect(error).toMatchObject({ kind: 'retryable', subcodeName: 'timeout' });

    await addFault({ fault: 'slow', delayMs: 300, nextCalls: 1 });
    const started = Date.now();
    await expect(kit.client.getCustomAudience(id, ['name'])).resolves.toMatchObject({ id });
    expect(Date.now() - started).toBeGreaterThanOrEqual(300);
  });
});

describe('fault rules', () => {
  it('apply only to matching calls and expire after nextCalls firings', async () => {
    const id = await kit.createAudience();
    await addFault({ fault: 'error', code: 2, nextCalls: 2, match: { method: 'DELETE', path: '/users' } });

    await kit.client.addUsers(id, oneRow(1));
    expect((await graphErrorOf(kit.client.removeUsers(id, oneRow(1)))).code).toBe(2);
    expect((await graphErrorOf(kit.client.removeUsers(id, oneRow(1)))).code).toBe(2);
    await expect(kit.client.removeUsers(id, oneRow(1))).resolves.toMatchObject({ numReceived: 1 });
    expect(await kit.admin('GET', '/_emulator/faults')).toEqual([]);
  });

  it('match an ad account, so other accounts are unaffected', async () => {
    await addFault({ fault: 'error', code: 17, match: { adAccountId: 'act_999' } });
    await expect(kit.client.listCustomAudiences(AD_ACCOUNT, ['id'])).resolves.toEqual([]);
    expect((await graphErrorOf(kit.client.listCustomAudiences('act_999', ['id']))).kind).toBe('throttled');
  });

  it('follow their schedule', async () => {
    await addFault({ fault: 'error', code: 1, startAfterMs: 1_000, durationMs: 1_000 });
    await expect(kit.client.listCustomAudiences(AD_ACCOUNT, ['id'])).resolves.toEqual([]);
    await new Promise((resolve) => setTimeout(resolve, 1_200));
    expect((await graphErrorOf(kit.client.listCustomAudiences(AD_ACCOUNT, ['id']))).code).toBe(1);
    await new Promise((resolve) => setTimeout(resolve, 1_000));
    await expect(kit.client.listCustomAudiences(AD_ACCOUNT, ['id'])).resolves.toEqual([]);
  });

  it('fire at their rate', async () => {
    await addFault({ fault: 'error', code: 2, rate: 0.5 });
    const outcomes = await Promise.all(
      Array.from({ length: 200 }, () => kit.client.listCustomAudiences(AD_ACCOUNT, ['id']).then(() => 'ok', () => 'failed')),
    );
    const failed = outcomes.filter((outcome) => outcome === 'failed').length;
    // Binomial(200, 0.5): outside 60..140 has a probability below 1e-8.
    expect(failed).toBeGreaterThan(60);
    expect(failed).toBeLessThan(140);
  });

  it('are listed, removed one by one, and cleared', async () => {
    const [added] = await kit.admin<Array<{ id: number }>>('POST', '/_emulator/faults', [
      { fault: 'error', code: 1 },
      { fault: 'slow', delayMs: 10 },
    ]);
    expect(await kit.admin('GET', '/_emulator/faults')).toEqual([
      expect.objectContaining({ fault: 'error', code: 1, fired: 0 }),
      expect.objectContaining({ fault: 'slow', delayMs: 10 }),
    ]);
    await kit.admin('DELETE', `/_emulator/faults/${added?.id}`);
    expect(await kit.admin('GET', '/_emulator/faults')).toHaveLength(1);
    await kit.admin('DELETE', '/_emulator/faults');
    expect(await kit.admin('GET', '/_emulator/faults')).toEqual([]);
  });

  it('are refused when malformed', async () => {
    const answer = await kit.admin<{ error: { code: number; message: string } }>(
      'POST',
      '/_emulator/faults',
      { fault: 'error' },
      [400],
    );
    expect(answer.error.message).toContain('code');
  });

  it('can be given at start-up in their command-line form', async () => {
    await kit.restart({ faults: [parseFaultFlag('error:code=2,nextCalls=1,path=/customaudiences')] });
    try {
      expect((await graphErrorOf(kit.client.listCustomAudiences(AD_ACCOUNT, ['id']))).code).toBe(2);
      await expect(kit.client.listCustomAudiences(AD_ACCOUNT, ['id'])).resolves.toEqual([]);
    } finally {
      await kit.restart();
    }
  });
});

describe('throttling per ad account', () => {
  it('refuses calls beyond the window with 80003 and a usage header naming the wait', async () => {
    await kit.admin('PATCH', '/_emulator/settings', { throttle: { maxCallsPerWindow: 3, windowMs: 120_000 } });
    const seen: GraphUsage[] = [];
    const client = kit.clientWith({ onUsage: (usage) => seen.push(usage) });

    for (let call = 0; call < 3; call += 1) await client.listCustomAudiences(AD_ACCOUNT, ['id']);
    expect(seen.map((usage) => usage.businessUseCase[0]?.callCountPct)).toEqual([33, 67, 100]);

    const error = await graphErrorOf(client.listCustomAudiences(AD_ACCOUNT, ['id']));
    expect(error).toMatchObject({ kind: 'throttled', code: 80003, subcode: 2446079 });
    expect(error.retryAfterMs).toBeGreaterThanOrEqual(60_000);
    expect(error.retryAfterMs).toBe(120_000);
    expect(seen.at(-1)?.businessUseCase[0]).toMatchObject({
      businessId: '1234567',
      type: 'custom_audience',
      estimatedTimeToRegainAccessMinutes: 2,
    });

    // Still refused while blocked; another account has its own quota.
    expect((await graphErrorOf(client.listCustomAudiences(AD_ACCOUNT, ['id']))).kind).toBe('throttled');
    await expect(client.listCustomAudiences('act_42', ['id'])).resolves.toEqual([]);
  });

  it('admits calls again once the window has moved on', async () => {
    await kit.admin('PATCH', '/_emulator/settings', { throttle: { maxCallsPerWindow: 2, windowMs: 1_000 } });
    await kit.client.listCustomAudiences(AD_ACCOUNT, ['id']);
    await kit.client.listCustomAudiences(AD_ACCOUNT, ['id']);
    const error = await graphErrorOf(kit.client.listCustomAudiences(AD_ACCOUNT, ['id']));
    expect(error.retryAfterMs).toBe(60_000);
    await new Promise((resolve) => setTimeout(resolve, 1_100));
    await expect(kit.client.listCustomAudiences(AD_ACCOUNT, ['id'])).resolves.toEqual([]);
  });
});

describe('stateful access controls', () => {
  it('answers 190/460 to a revoked token until it is restored', async () => {
    await kit.admin('POST', '/_emulator/tokens/revoke', { token: TOKEN });
    const error = await graphErrorOf(kit.client.listCustomAudiences(AD_ACCOUNT, ['id']));
    expect(error).toMatchObject({ kind: 'needs_person', code: 190, subcode: 460 });
    await expect(kit.clientWith({ accessToken: 'EAAanothertoken0000000000000' }).listCustomAudiences(AD_ACCOUNT, ['id'])).resolves.toEqual([]);

    await kit.admin('POST', '/_emulator/tokens/restore', { token: TOKEN });
    await expect(kit.client.listCustomAudiences(AD_ACCOUNT, ['id'])).resolves.toEqual([]);
  });

  it('refuses audience writes with 200/1870034 while the account has not accepted the terms', async () => {
    const id = await kit.createAudience();
    await kit.admin('POST', `/_emulator/ad-accounts/${AD_ACCOUNT}/terms`, { accepted: false });
    for (const call of [() => kit.createAudience(), () => kit.client.addUsers(id, oneRow(1)), () => kit.client.renameCustomAudience(id, 'x')]) {
      expect(await graphErrorOf(call())).toMatchObject({ kind: 'needs_person', code: 200, subcode: 1870034 });
    }
    await expect(kit.client.getCustomAudience(id, ['name'])).resolves.toMatchObject({ id });

    await kit.admin('POST', `/_emulator/ad-accounts/${AD_ACCOUNT}/terms`, { accepted: true });
    await expect(kit.client.addUsers(id, oneRow(1))).resolves.toMatchObject({ numReceived: 1 });
  });

  it('deletes an audience as Meta would, after which the client sees audience_gone', async () => {
    const id = await kit.createAudience();
    await kit.client.addUsers(id, oneRow(1));
    await kit.admin('DELETE', `/_emulator/audiences/${id}`);
    expect(await graphErrorOf(kit.client.addUsers(id, oneRow(2)))).toMatchObject({ kind: 'audience_gone' });
    expect(await kit.rowsOf(id)).toEqual({ schema: ['EMAIL', 'PHONE', 'EXTERN_ID'], rows: [] });
  });
});
