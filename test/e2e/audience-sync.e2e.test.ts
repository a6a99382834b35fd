import type { AudienceStatus } from '../../src/workflows/audience-status';
import type { SyncNowResult } from '../../src/workflows/messages';
import { TestStack, eventually, type WorkerProcess } from '../support/test-stack';
import { asSortedJson, createMemberTable, expectedRows, member, sha256, writeMembers, type TestMember } from '../support/expected-rows';

jest.setTimeout(180_000);

interface EmulatorAudience {
  id: string;
  name: string;
  ad_account_id: string;
  row_count: number;
}

/**
 * The whole path on real parts: the compiled CLI and worker, the Temporal dev server, PostgreSQL and the Graph
 * API emulator. Every check compares what the emulator holds with rows computed independently from the source.
 */
describe('audience sync, end to end', () => {
  let stack: TestStack;
  let worker: WorkerProcess;
  let table: string;
  let members: TestMember[];
  let key: string;

  beforeAll(async () => {
    stack = await TestStack.start();
    table = `e2e_members_${stack.suffix}`;
    key = `e2e-${stack.suffix}`;
    members = Array.from({ length: 1000 }, (_, i) => member(i + 1));
    await createMemberTable(stack.pool, table);
    await writeMembers(stack.pool, table, members);
    worker = await stack.startWorker();
  });

  afterAll(async () => {
    await stack?.pool.query(`DROP TABLE IF EXISTS ${table}`);
    await stack?.stop();
  });

  const status = () => stack.cliJson<AudienceStatus>(['status', key]);
  const syncNow = async (): Promise<SyncNowResult> => stack.cliJson<SyncNowResult>(['sync-now', key, '--wait']);

  async function emulatorRows(fbAudienceId: string): Promise<{ schema: string[]; rows: string[] }> {
    const held = await stack.emulatorJson<{ schema: string[]; rows: unknown[][] }>(`/_emulator/audiences/${fbAudienceId}/rows`);
    return { schema: held.schema, rows: asSortedJson(held.rows) };
  }

  async function expectEmulatorToHold(expected: TestMember[]): Promise<void> {
    const { fbAudienceId } = await status();
    const held = await emulatorRows(fbAudienceId as string);
    expect(held.rows).toEqual(expectedRows(held.schema, expected));
  }

  it('connects a 1,000-member audience and the emulator holds exactly its rows', async () => {
    const connected = await stack.cli([
      'connect',
      '--audience', key,
      '--name', 'E2E members',
      '--ad-account', 'act_5550001',
      '--query', `SELECT user_id, email, phone, traits FROM ${table}`,
      '--interval', '10s',
    ]);
    expect(connected.stderr).toBe('');
    expect(connected.code).toBe(0);

    const again = await stack.cli(['connect', '--audience', key, '--name', 'E2E members', '--ad-account', 'act_5550001',
      '--query', `SELECT user_id, email, phone, traits FROM ${table}`, '--interval', '10s']);
    expect(again.code).toBe(0);
    expect(again.stdout).toMatch(/already connected/);

    const result = await syncNow();
    expect(result.cycle?.outcome).toMatch(/synced|unchanged/);
    const current = await status();
    expect(current.state).toBe('synced');
    expect(current.memberCount).toBe(1000);
    await expectEmulatorToHold(members);

    const audiences = await stack.emulatorJson<EmulatorAudience[]>('/_emulator/audiences');
    expect(audiences.filter((audience) => audience.id === current.fbAudienceId)).toEqual([
      expect.objectContaining({ name: 'E2E members', ad_account_id: 'act_5550001', row_count: 1100 }),
    ]);
    // Meta's own view, read at the end of the cycle: the 1,100 rows rounded to a range, ready for use.
    expect(current.meta).toMatchObject({
      approximateSize: { lower: 1100, upper: 1100 },
      deliveryStatus: { code: 200 },
      operationStatus: { code: 200 },
      attention: null,
    });
  });

  it("shows Meta's view in status and says when the audience is too small or unusable at Meta", async () => {
    const { fbAudienceId } = await status();
    const setAtMeta = (body: unknown) =>
      stack.emulatorJson(`/_emulator/audiences/${fbAudienceId}`, {
        method: 'PATCH',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify(body),
      });
    const text = await stack.cli(['status', key]);
    expect(text.stdout).toMatch(/At Meta \(read .*\): about 1,100–1,100 people, delivery 200 \(This audience is ready for use\.\), operation 200 \(Normal\)\./);
    expect(text.stdout).toMatch(/Meta counts the people it matched from the 1000 members sent, as a range, not the rows it accepted/);

    await setAtMeta({ approximate_count: { lower: -1, upper: -1 }, delivery_status: { code: 300, description: 'This audience is too small to be used.' } });
    await syncNow();
    const small = await status();
    expect(small.meta).toMatchObject({ approximateSize: null, deliveryStatus: { code: 300 } });
    expect(small.summary).toMatch(/Meta reports the audience too small to be used in ads \(delivery status 300\)/);
    expect(small.meta?.note).toMatch(/does not report a size yet \(-1\)/);

    await setAtMeta({ approximate_count: null, delivery_status: null, operation_status: { code: 471, description: 'Flagged' } });
    await syncNow();
    expect((await status()).summary).toMatch(/operation status 471 \(Flagged\): Meta flagged it for integrity/);

    await setAtMeta({ operation_status: null });
    await syncNow();
    expect((await status()).meta).toMatchObject({ approximateSize: { lower: 1100, upper: 1100 }, attention: null });
  });

  it('uploads joins, leaves and changed emails, and the emulator is exact again', async () => {
    const leaving = new Set(members.slice(0, 50).map((m) => m.userId));
    const changed = new Set(members.slice(50, 80).map((m) => m.userId));
    members = [
      ...members.filter((m) => !leaving.has(m.userId)).map((m) => (changed.has(m.userId) ? member(Number(m.userId.slice(1)), 1) : m)),
      ...Array.from({ length: 70 }, (_, i) => member(2000 + i)),
    ];
    await writeMembers(stack.pool, table, members);
    const result = await syncNow();
    expect(result.cycle).toEqual(
      expect.objectContaining({ outcome: 'synced', members: 1020 }),
    );
    expect(result.cycle?.removed).toBeGreaterThanOrEqual(80);
    await expectEmulatorToHold(members);
  });

  it('uploads nothing while paused and catches up after resume', async () => {
    expect((await stack.cliJson<AudienceStatus>(['pause', key])).state).toMatch(/paused|syncing/);
    const pausedAt = await eventually(async () => {
      const current = await status();
      return current.state === 'paused' && current;
    });
    const before = await emulatorRows(pausedAt.fbAudienceId as string);

    members = [...members, ...Array.from({ length: 25 }, (_, i) => member(3000 + i))];
    await writeMembers(stack.pool, table, members);
    const rejected = await stack.cli(['sync-now', key]);
    expect(rejected.code).toBe(1);
    expect(rejected.stderr).toMatch(/paused; resume it first/);
    // Longer than the 10 s interval: a scheduled cycle would have run by now if pause did not hold it.
    await new Promise((resolve) => setTimeout(resolve, 12_000));
    expect(await emulatorRows(pausedAt.fbAudienceId as string)).toEqual(before);
    expect((await status()).cyclesCompleted).toBe(pausedAt.cyclesCompleted);

    await stack.cliJson(['resume', key]);
    await eventually(async () => (await status()).cyclesCompleted > pausedAt.cyclesCompleted, 30_000);
    await syncNow();
    await expectEmulatorToHold(members);
  });

  it('renames the Custom Audience at Meta', async () => {
    const renamed = await stack.cliJson<AudienceStatus>(['rename', key, 'E2E members (renamed)']);
    expect(renamed.name).toBe('E2E members (renamed)');
    await eventually(async () => {
      const audiences = await stack.emulatorJson<EmulatorAudience[]>('/_emulator/audiences');
      return audiences.some((audience) => audience.id === renamed.fbAudienceId && audience.name === 'E2E members (renamed)');
    });
  });

  it('uploads nothing once the audience drops below the minimum', async () => {
    const smallTable = `${table}_small`;
    const smallKey = `${key}-small`;
    let small = Array.from({ length: 150 }, (_, i) => member(5000 + i));
    await createMemberTable(stack.pool, smallTable);
    await writeMembers(stack.pool, smallTable, small);
    try {
      const connected = await stack.cli(['connect', '--audience', smallKey, '--name', 'E2E small', '--ad-account',
        'act_5550001', '--query', `SELECT user_id, email, phone, traits FROM ${smallTable}`, '--min-size', '100']);
      expect(connected.code).toBe(0);
      const first = await stack.cliJson<SyncNowResult>(['sync-now', smallKey, '--wait']);
      const fbAudienceId = first.status.fbAudienceId as string;
      const synced = await emulatorRows(fbAudienceId);
      expect(synced.rows).toEqual(expectedRows(synced.schema, small));

      small = small.slice(0, 90);
      await writeMembers(stack.pool, smallTable, small);
      const below = await stack.cliJson<SyncNowResult>(['sync-now', smallKey, '--wait']);
      expect(below.cycle?.outcome).toBe('below_minimum');
      expect(below.status.state).toBe('below_minimum');
      expect(below.status.summary).toMatch(/90 members .* fewer than the minimum of 100/);
      expect((await emulatorRows(fbAudienceId)).rows).toEqual(synced.rows);
    } finally {
      await stack.cli(['disconnect', smallKey]);
      await stack.pool.query(`DROP TABLE IF EXISTS ${smallTable}`);
    }
  });

  it('lists audiences and shows their history', async () => {
    const listed = await eventually(async () => {
      const audiences = await stack.cliJson<{ audienceKey: string; state: string; memberCount: number }[]>(['list']);
      return audiences.find((audience) => audience.audienceKey === key && audience.memberCount === members.length);
    });
    expect(listed.state).toMatch(/synced|syncing/);
    const history = await stack.cliJson<{ outcome: string; added: number }[]>(['history', key]);
    expect(history.length).toBeGreaterThanOrEqual(3);
    expect(history.some((cycle) => cycle.outcome === 'synced' && cycle.added > 0)).toBe(true);
  });

  it('answers bad input with one clear line and a non-zero exit', async () => {
    const unknown = await stack.cli(['status', 'no-such-audience']);
    expect(unknown.code).toBe(1);
    expect(unknown.stderr.trim().split('\n')).toEqual([expect.stringMatching(/No audience with key no-such-audience/)]);
    const badDuration = await stack.cli(['connect', '--audience', 'x', '--name', 'x', '--ad-account', 'act_1',
      '--query', 'SELECT 1 AS user_id', '--interval', 'often']);
    expect(badDuration.code).not.toBe(0);
    expect(badDuration.stderr).toMatch(/"often" is not a duration/);
    const unreachable = await stack.cli(['list'], { TEMPORAL_ADDRESS: '127.0.0.1:1' });
    expect(unreachable.code).toBe(1);
    expect(unreachable.stderr.trim().split('\n')).toEqual([expect.stringMatching(/Cannot reach Temporal at 127.0.0.1:1/)]);
  });

  it('keeps member data and the token out of the worker log', () => {
    const log = worker.output();
    expect(log).not.toContain(stack.env.FB_ACCESS_TOKEN as string);
    for (const m of members.slice(0, 50)) {
      expect(log).not.toContain(m.emails[0]);
      expect(log).not.toContain(sha256(m.emails[0]));
    }
  });
});
