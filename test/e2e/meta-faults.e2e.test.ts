import type { CallLogEntry } from '../../src/emulator';
import type { AudienceStatus } from '../../src/workflows/audience-status';
import type { SyncNowResult } from '../../src/workflows/messages';
import { TestStack, eventually, type WorkerProcess } from '../support/test-stack';
import { asSortedJson, createMemberTable, expectedRows, member, writeMembers, type TestMember } from '../support/expected-rows';
import { expectHistoriesFreeOfMemberData } from '../support/history-privacy';

jest.setTimeout(600_000);

/**
 * What Meta throws at a sync on a bad day: transient failures, throttling, a revoked token, a deleted audience.
 * Each ends with exactly the source rows at the emulator, and none needs a person except the token.
 */
describe('faults from Meta, end to end', () => {
  let stack: TestStack;
  let worker: WorkerProcess;
  const keys: string[] = [];
  const everyone: TestMember[] = [];

  beforeAll(async () => {
    stack = await TestStack.start({ emulator: { latencyMs: 100 }, env: { UPLOAD_CONCURRENCY: '1' } });
    worker = await stack.startWorker();
  });

  afterAll(async () => {
    await expectHistoriesFreeOfMemberData(stack, keys, everyone);
    await stack?.stop();
  });

  /** An audience of its own members and table; `first` keeps members distinct across audiences. */
  async function audience(name: string, adAccount: string, count: number, first: number, interval = '1h') {
    const key = `${name}-${stack.suffix}`;
    const table = `faults_${name.replace(/-/g, '_')}_${stack.suffix}`;
    let members = Array.from({ length: count }, (_, i) => member(first + i));
    everyone.push(...members);
    keys.push(key);
    await createMemberTable(stack.pool, table);
    await writeMembers(stack.pool, table, members);
    const connected = await stack.cli(['connect', '--audience', key, '--name', key, '--ad-account', adAccount,
      '--query', `SELECT user_id, email, phone, traits FROM ${table}`, '--interval', interval]);
    expect(connected.code).toBe(0);
    return {
      key,
      status: () => stack.cliJson<AudienceStatus>(['status', key]),
      syncNow: () => stack.cliJson<SyncNowResult>(['sync-now', key, '--wait']).catch(() => undefined),
      async change(next: TestMember[]) {
        members = next;
        everyone.push(...next);
        await writeMembers(stack.pool, table, next);
      },
      members: () => members,
      async expectExact(fbAudienceId?: string) {
        const id = fbAudienceId ?? (await this.status()).fbAudienceId;
        const held = await stack.emulatorJson<{ schema: string[]; rows: unknown[][] }>(`/_emulator/audiences/${id}/rows`);
        expect(asSortedJson(held.rows)).toEqual(expectedRows(held.schema, members));
      },
    };
  }


  it('syncs exactly through 20% transient failures and a throttling burst, waiting as long as Meta asks', async () => {
    await stack.addFaults([
      { fault: 'error', code: 2, rate: 0.08, match: { adAccountId: 'act_8880001' } },
      { fault: 'error', code: 1, subcode: 99, rate: 0.04, match: { adAccountId: 'act_8880001' } },
      { fault: 'http_5xx', httpStatus: 502, rate: 0.04, match: { adAccountId: 'act_8880001' } },
      { fault: 'drop_connection', drop: 'after', rate: 0.04, match: { adAccountId: 'act_8880001' } },
      // A dozen calls can all escape a 20% rate (one run in ten); the first upload fails for certain.
      { fault: 'http_5xx', httpStatus: 503, nextCalls: 1, match: { adAccountId: 'act_8880001', path: '/users' } },
    ]);
    const since = await stack.lastCallSeq();
    const first = await audience('transient-a', 'act_8880001', 30_000, 100_000);
    const second = await audience('transient-b', 'act_8880001', 20_000, 200_000);
    // Once uploads are under way, Meta throttles the ad account once, asking for a minute's pause.
    await eventually(async () => (await stack.calls(since)).some((call) => call.path.endsWith('/users') && call.status === 200));
    await stack.addFaults({ fault: 'throttle', code: 80003, retryAfterMinutes: 1, nextCalls: 1, match: { adAccountId: 'act_8880001', path: '/users' } });

    for (const synced of [first, second]) {
      const status = await eventually(async () => {
        const current = await synced.status();
        return current.cyclesCompleted >= 1 && current.state !== 'syncing' && current.state !== 'creating' && current;
      }, 400_000);
      expect(status.state).toBe('synced');
      await synced.expectExact(status.fbAudienceId as string);
    }

    const log = (await stack.calls(since)).filter((call) => call.adAccountId === 'act_8880001');
    expect(log.filter((call) => call.fault && call.fault !== 'throttle').length).toBeGreaterThan(0);
    const throttled = log.find((call) => call.fault === 'throttle');
    expect(throttled).toBeDefined();
    // Calls already on the wire when the answer came back may land just after it; nothing new may start for a minute.
    const settled = (throttled as CallLogEntry).at + 1_000;
    const tooEarly = log.filter((call) => call.at > settled && call.at < (throttled as CallLogEntry).at + 60_000);
    expect(tooEarly).toEqual([]);
    expect(log.some((call) => call.at >= (throttled as CallLogEntry).at + 60_000)).toBe(true);
    await stack.clearFaults();
  });

  it('parks a revoked token in needs_attention, calls at most once per interval, and recovers when it is fixed', async () => {
    const revoked = await audience('token', 'act_8880002', 1_000, 300_000, '10s');
    await eventually(async () => (await revoked.status()).state === 'synced' && true);
    await stack.emulatorJson('/_emulator/tokens/revoke', {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ token: stack.env.FB_ACCESS_TOKEN }),
    });
    await revoked.change([...revoked.members(), ...Array.from({ length: 20 }, (_, i) => member(310_000 + i))]);
    const parked = await eventually(async () => {
      const current = await revoked.status();
      return current.state === 'needs_attention' && current;
    }, 60_000);
    expect(parked.summary).toMatch(/access token/i);
    expect(parked.summary).toMatch(/audience-sync resume/);

    const since = await stack.lastCallSeq();
    await new Promise((resolve) => setTimeout(resolve, 35_000));
    const whileParked = (await stack.calls(since)).filter((call) => call.adAccountId === 'act_8880002' || call.audienceId === parked.fbAudienceId);
    expect(whileParked.length).toBeGreaterThanOrEqual(2);
    expect(whileParked.length).toBeLessThanOrEqual(4);
    expect(whileParked.every((call) => !call.path.endsWith('/users'))).toBe(true);

    await stack.emulatorJson('/_emulator/tokens/restore', {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ token: stack.env.FB_ACCESS_TOKEN }),
    });
    await eventually(async () => {
      const current = await revoked.status();
      return current.state === 'synced' && current.memberCount === 1_020;
    }, 60_000);
    await revoked.expectExact();
  });

  it('recreates an audience deleted at Meta and uploads everything into the new one', async () => {
    const deleted = await audience('deleted', 'act_8880003', 1_000, 400_000);
    const before = await eventually(async () => {
      const current = await deleted.status();
      return current.state === 'synced' && current;
    });
    await stack.emulatorJson(`/_emulator/audiences/${before.fbAudienceId}`, { method: 'DELETE' });
    await deleted.change([...deleted.members(), ...Array.from({ length: 5 }, (_, i) => member(410_000 + i))]);
    await deleted.syncNow();
    const after = await eventually(async () => {
      const current = await deleted.status();
      return current.fbAudienceId !== before.fbAudienceId && current.state === 'synced' && current;
    });
    expect(after.totals.recreated).toBe(1);
    await deleted.expectExact(after.fbAudienceId as string);
    const history = await stack.cliJson<{ outcome: string }[]>(['history', deleted.key]);
    expect(history.map((cycle) => cycle.outcome)).toContain('audience_gone');
  });

  it('keeps member data and the token out of the worker log', () => {
    const log = worker.output();
    expect(log).not.toContain(stack.env.FB_ACCESS_TOKEN as string);
    for (const m of everyone.slice(0, 100)) expect(log).not.toContain(m.emails[0]);
  });
});
