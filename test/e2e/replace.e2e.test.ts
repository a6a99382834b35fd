import type { CallLogEntry } from '../../src/emulator';
import type { CycleRecord } from '../../src/db/sync-cycles';
import type { AudienceStatus } from '../../src/workflows/audience-status';
import type { SyncNowResult } from '../../src/workflows/messages';
import { TestStack, eventually, type WorkerProcess } from '../support/test-stack';
import { asSortedJson, createMemberTable, expectedRows, member, sha256, writeMembers, type TestMember } from '../support/expected-rows';
import { expectHistoriesFreeOfMemberData } from '../support/history-privacy';

jest.setTimeout(600_000);

/**
 * Replacing an audience's whole membership at Meta (usersreplace): on request, when audience-sync's own records
 * were lost, through a worker killed mid-session, throttling and a session that outran Meta's window. Each ends
 * with exactly the source's rows at the emulator, whatever Meta held before.
 */
describe('replace, end to end', () => {
  let stack: TestStack;
  let worker: WorkerProcess;
  const keys: string[] = [];
  const everyone: TestMember[] = [];

  beforeAll(async () => {
    stack = await TestStack.start({ env: { UPLOAD_CONCURRENCY: '1' } });
    worker = await stack.startWorker();
  });

  afterAll(async () => {
    await expectHistoriesFreeOfMemberData(stack, keys, everyone.slice(0, 300));
    await stack?.stop();
  });


  /** A synced audience of `count` members of its own, numbered from `first`. */
  async function syncedAudience(name: string, count: number, first: number) {
    const key = `${name}-${stack.suffix}`;
    const table = `replace_${name.replace(/-/g, '_')}_${stack.suffix}`;
    let members = Array.from({ length: count }, (_, i) => member(first + i));
    everyone.push(...members);
    keys.push(key);
    await createMemberTable(stack.pool, table);
    await writeMembers(stack.pool, table, members);
    const connected = await stack.cli(['connect', '--audience', key, '--name', key, '--ad-account', 'act_6660001',
      '--query', `SELECT user_id, email, phone, traits FROM ${table}`]);
    expect(connected.code).toBe(0);
    const status = async () => stack.cliJson<AudienceStatus>(['status', key]);
    const synced = await eventually(async () => {
      const current = await status();
      return current.state === 'synced' && current.cyclesCompleted >= 1 && current;
    }, 300_000);
    const fbAudienceId = synced.fbAudienceId as string;
    return {
      key,
      fbAudienceId,
      status,
      async change(next: TestMember[]) {
        members = next;
        everyone.push(...next);
        await writeMembers(stack.pool, table, next);
      },
      members: () => members,
      held: () => stack.emulatorJson<{ schema: string[]; rows: unknown[][] }>(`/_emulator/audiences/${fbAudienceId}/rows`),
      async expectExact() {
        const held = await this.held();
        expect(asSortedJson(held.rows)).toEqual(expectedRows(held.schema, members));
      },
      history: () => stack.cliJson<CycleRecord[]>(['history', key]),
    };
  }

  /** Rows added at Meta behind audience-sync's back, as someone in Ads Manager might. */
  async function addBehindTheBack(fbAudienceId: string, schema: string[], emails: string[]): Promise<void> {
    const response = await fetch(`${stack.emulator.url}/v27.0/${fbAudienceId}/users`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({
        payload: { schema, is_raw: true, data: emails.map((email) => schema.map((key) => (key === 'EMAIL' ? sha256(email) : ''))) },
        access_token: stack.env.FB_ACCESS_TOKEN,
      }),
    });
    expect(response.status).toBe(200);
  }

  const replaceCalls = (log: CallLogEntry[], fbAudienceId: string) =>
    log.filter((call) => call.audienceId === fbAudienceId && call.path.endsWith('/usersreplace'));
  const usersCalls = (log: CallLogEntry[], fbAudienceId: string) =>
    log.filter((call) => call.audienceId === fbAudienceId && call.path.endsWith('/users'));

  it('removes rows added behind its back with sync-now --replace, and says it replaced', async () => {
    const audience = await syncedAudience('behind-back', 300, 1_000_000);
    const { schema } = await audience.held();
    await addBehindTheBack(audience.fbAudienceId, schema, ['stranger1@example.com', 'stranger2@example.com']);
    expect((await audience.held()).rows).toHaveLength(330 + 2);

    const since = await stack.lastCallSeq();
    const result = await stack.cliJson<SyncNowResult>(['sync-now', audience.key, '--replace', '--wait']);
    expect(result.cycle).toEqual(expect.objectContaining({ outcome: 'replaced', replaced: 330 }));
    expect(result.cycle?.message).toMatch(/an operator asked for it/);
    await audience.expectExact();

    const log = await stack.calls(since);
    expect(replaceCalls(log, audience.fbAudienceId)).toHaveLength(1);
    expect(usersCalls(log, audience.fbAudienceId)).toEqual([]);
    // Before the session, the audience's operation_status was read: a replace starts only when none runs.
    const statusRead = log.findIndex((call) => call.audienceId === audience.fbAudienceId && call.method === 'GET');
    expect(statusRead).toBeGreaterThanOrEqual(0);
    expect(statusRead).toBeLessThan(log.indexOf(replaceCalls(log, audience.fbAudienceId)[0]));

    const [latest] = await audience.history();
    expect(latest).toEqual(expect.objectContaining({ outcome: 'replaced', replaced: 330 }));
    // The next cycle is an ordinary one again: nothing changed, nothing is sent.
    const next = await stack.cliJson<SyncNowResult>(['sync-now', audience.key, '--wait']);
    expect(next.cycle?.outcome).toBe('unchanged');
  });

  it('ends a replace exactly when the worker is killed in the middle of its session, continuing that session', async () => {
    // 25,000 members make 27,500 rows: three replace batches, each held two seconds by Meta.
    const audience = await syncedAudience('killed', 25_000, 2_000_000);
    await audience.change([...audience.members().slice(1_000), ...Array.from({ length: 500 }, (_, i) => member(2_100_000 + i))]);
    await stack.addFaults({ fault: 'slow', delayMs: 2_000, match: { audienceId: audience.fbAudienceId, path: '/usersreplace' } });
    const since = await stack.lastCallSeq();
    expect((await stack.cli(['sync-now', audience.key, '--replace'])).code).toBe(0);

    await eventually(async () => replaceCalls(await stack.calls(since), audience.fbAudienceId).some((call) => call.status === 200), 120_000);
    await worker.stop('SIGKILL');
    worker = await stack.startWorker();
    const replaced = await eventually(async () => {
      const [latest] = await audience.history();
      return latest?.outcome === 'replaced' && latest;
    }, 300_000);
    await stack.clearFaults();
    await audience.expectExact();

    const log = await stack.calls(since);
    const sent = replaceCalls(log, audience.fbAudienceId);
    // Three batches, plus at most the one in flight when the worker died; one session throughout.
    expect(sent.filter((call) => call.status === 200).length).toBeGreaterThanOrEqual(3);
    expect(sent.length).toBeLessThanOrEqual(4);
    expect(replaced.replaced).toBe(26_400 + 550);
    // No /users call while the replace ran.
    const first = sent[0].at;
    const last = sent.at(-1)?.at as number;
    expect(usersCalls(log, audience.fbAudienceId).filter((call) => call.at >= first && call.at <= last)).toEqual([]);
  });

  it('waits out throttling in the middle of a replace and still ends exact', async () => {
    const audience = await syncedAudience('throttled', 400, 3_000_000);
    await audience.change(audience.members().slice(100));
    await stack.addFaults({ fault: 'throttle', retryAfterMinutes: 1, nextCalls: 1, match: { audienceId: audience.fbAudienceId, path: '/usersreplace' } });
    const since = await stack.lastCallSeq();
    const result = await stack.cliJson<SyncNowResult>(['sync-now', audience.key, '--replace', '--wait']);
    expect(result.cycle?.outcome).toBe('replaced');
    await audience.expectExact();
    const sent = replaceCalls(await stack.calls(since), audience.fbAudienceId);
    expect(sent.map((call) => call.fault ?? call.status)).toEqual(['throttle', 200]);
    expect(sent[1].at - sent[0].at).toBeGreaterThanOrEqual(60_000);
  });

  it("adds what a session that outran Meta's window did not receive, and ends exact", async () => {
    const audience = await syncedAudience('window', 15_000, 4_000_000);
    await audience.change([...audience.members().slice(2_000), ...Array.from({ length: 300 }, (_, i) => member(4_100_000 + i))]);
    // A second between a session's batches is past this window: Meta then keeps what the session received.
    await stack.emulatorJson('/_emulator/settings', {
      method: 'PATCH',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ replaceWindowMs: 1_000 }),
    });
    await stack.addFaults({ fault: 'slow', delayMs: 2_000, match: { audienceId: audience.fbAudienceId, path: '/usersreplace' } });
    try {
      const since = await stack.lastCallSeq();
      const result = await stack.cliJson<SyncNowResult>(['sync-now', audience.key, '--replace', '--wait']);
      expect(result.cycle?.outcome).toBe('replaced');
      await audience.expectExact();
      const log = await stack.calls(since);
      const sent = replaceCalls(log, audience.fbAudienceId);
      expect(sent.map((call) => call.status)).toEqual([200, 400]);
      // The rows of the refused batch went in with /users, after the session ended.
      const added = usersCalls(log, audience.fbAudienceId);
      expect(added.length).toBeGreaterThan(0);
      expect(added.every((call) => call.method === 'POST' && call.at > (sent[1].at as number))).toBe(true);
    } finally {
      await stack.emulatorJson('/_emulator/settings', {
        method: 'PATCH',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ replaceWindowMs: 90 * 60_000 }),
      });
      await stack.clearFaults();
    }
  });

  it('replaces again in a new session when Meta says a replace failed part-way (1870148)', async () => {
    const audience = await syncedAudience('failed-part-way', 300, 7_000_000);
    await addBehindTheBack(audience.fbAudienceId, (await audience.held()).schema, ['stranger5@example.com']);
    await stack.addFaults({ fault: 'error', code: 2650, subcode: 1870148, nextCalls: 1, match: { audienceId: audience.fbAudienceId, path: '/usersreplace' } });
    const since = await stack.lastCallSeq();
    const result = await stack.cliJson<SyncNowResult>(['sync-now', audience.key, '--replace', '--wait']);
    expect(result.cycle?.outcome).toBe('replaced');
    await audience.expectExact();
    expect(replaceCalls(await stack.calls(since), audience.fbAudienceId).map((call) => call.fault ?? call.status)).toEqual(['error', 200]);
  });

  it('adds and removes instead when Meta will not replace an audience that large (1870144), and says what stays', async () => {
    const audience = await syncedAudience('too-large', 300, 8_000_000);
    await addBehindTheBack(audience.fbAudienceId, (await audience.held()).schema, ['stranger6@example.com']);
    await audience.change([...audience.members().slice(10), member(8_100_001)]);
    await stack.addFaults({ fault: 'error', code: 2650, subcode: 1870144, nextCalls: 1, match: { audienceId: audience.fbAudienceId, path: '/usersreplace' } });
    const result = await stack.cliJson<SyncNowResult>(['sync-now', audience.key, '--replace', '--wait']);
    expect(result.cycle).toMatchObject({ outcome: 'synced', replaced: 0, added: 1, removed: 11 });
    expect(result.cycle?.message).toMatch(/does not replace an audience of 100 million.*outside audience-sync stay/);
    const held = await audience.held();
    expect(asSortedJson(held.rows)).toEqual(
      [...expectedRows(held.schema, audience.members()), JSON.stringify(held.schema.map((key) => (key === 'EMAIL' ? sha256('stranger6@example.com') : '')))].sort(),
    );
  });

  /** A Custom Audience made at Meta without audience-sync, as another tool or Ads Manager leaves one. */
  async function audienceMadeElsewhere(adAccount: string, name: string): Promise<string> {
    const response = await fetch(`${stack.emulator.url}/v27.0/${adAccount}/customaudiences`, {
      method: 'POST',
      body: new URLSearchParams({
        name,
        subtype: 'CUSTOM',
        customer_file_source: 'USER_PROVIDED_ONLY',
        access_token: stack.env.FB_ACCESS_TOKEN as string,
      }),
    });
    expect(response.status).toBe(200);
    return String(((await response.json()) as { id: string }).id);
  }

  it('adopts a Custom Audience made beforehand: no new audience, its rows replaced, shown as adopted', async () => {
    const id = await audienceMadeElsewhere('act_6660001', 'Made in Ads Manager');
    // What the other tool left: some of our members and two strangers, in a schema of its own.
    const members = Array.from({ length: 200 }, (_, i) => member(6_000_000 + i));
    everyone.push(...members);
    await addBehindTheBack(id, ['EMAIL', 'PHONE'], ['stranger3@example.com', 'stranger4@example.com', ...members.slice(0, 50).map((m) => m.emails[0])]);
    const audiencesBefore = (await stack.emulatorJson<unknown[]>('/_emulator/audiences')).length;

    const key = `adopted-${stack.suffix}`;
    const table = `replace_adopted_${stack.suffix}`;
    keys.push(key);
    await createMemberTable(stack.pool, table);
    await writeMembers(stack.pool, table, members);
    const connected = await stack.cli(['connect', '--audience', key, '--name', key, '--ad-account', 'act_6660001',
      '--query', `SELECT user_id, email, phone, traits FROM ${table}`, '--custom-audience-id', id]);
    expect(connected.stdout).toMatch(/adopts Custom Audience/);
    const status = await eventually(async () => {
      const current = await stack.cliJson<AudienceStatus>(['status', key]);
      return current.state === 'synced' && current.cyclesCompleted >= 1 && current.pendingRename === null && current;
    }, 120_000);
    expect(status).toMatchObject({ fbAudienceId: id, adopted: true });
    expect((await stack.cli(['status', key])).stdout).toMatch(new RegExp(`custom audience: ${id} \\(adopted\\)`));
    expect(status.lastCycle).toMatchObject({ outcome: 'replaced', replaced: 220 });
    expect(status.lastCycle?.message).toMatch(/adopted/);

    const held = await stack.emulatorJson<{ schema: string[]; rows: unknown[][] }>(`/_emulator/audiences/${id}/rows`);
    expect(asSortedJson(held.rows)).toEqual(expectedRows(held.schema, members));
    const audiences = await stack.emulatorJson<{ id: string; name: string }[]>('/_emulator/audiences');
    expect(audiences).toHaveLength(audiencesBefore);
    expect(audiences.find((audience) => audience.id === id)?.name).toBe(key);
  });

  it('refuses at connect to adopt an audience that does not fit, saying why', async () => {
    const elsewhere = await audienceMadeElsewhere('act_6660002', 'Another account');
    const refused = await stack.cli(['connect', '--audience', `misfit-${stack.suffix}`, '--name', 'misfit', '--ad-account',
      'act_6660001', '--query', 'SELECT 1 AS user_id', '--custom-audience-id', elsewhere]);
    expect(refused.code).toBe(1);
    expect(refused.stderr).toContain(`Custom Audience ${elsewhere} belongs to ad account act_6660002, not act_6660001`);
    const missing = await stack.cli(['connect', '--audience', `misfit-${stack.suffix}`, '--name', 'misfit', '--ad-account',
      'act_6660001', '--query', 'SELECT 1 AS user_id', '--custom-audience-id', '999999999']);
    expect(missing.stderr).toContain('Custom Audience 999999999 does not exist');
    expect((await stack.cli(['status', `misfit-${stack.suffix}`])).code).toBe(1);
  });

  // Last: it wipes audience-sync's tables, which every audience of this suite shares.
  it('replaces on its own when its records were wiped, so members who left meanwhile are removed', async () => {
    const audience = await syncedAudience('wiped', 300, 5_000_000);
    await worker.stop();
    await stack.pool.query('DROP SCHEMA audience_sync CASCADE');
    await audience.change(audience.members().slice(50));
    worker = await stack.startWorker();

    const result = await stack.cliJson<SyncNowResult>(['sync-now', audience.key, '--wait']);
    expect(result.cycle).toEqual(expect.objectContaining({ outcome: 'replaced', members: 250 }));
    expect(result.cycle?.message).toMatch(/no record of the audience's members/);
    await audience.expectExact();
    const status = await audience.status();
    expect(status.state).toBe('synced');
    expect(status.summary).toMatch(/Replaced/);
    const [latest] = await audience.history();
    expect(latest.outcome).toBe('replaced');
    // Once replaced, the audience is in step again: the next cycle neither replaces nor changes anything.
    const next = await stack.cliJson<SyncNowResult>(['sync-now', audience.key, '--wait']);
    expect(next.cycle?.outcome).toBe('unchanged');
  });
});
