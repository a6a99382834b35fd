import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import type { CallLogEntry } from '../../src/emulator';
import type { AudienceStatus } from '../../src/workflows/audience-status';
import { TestStack, eventually } from '../support/test-stack';
import { asSortedJson, createMemberTable, expectedRows, member, writeMembers, type TestMember } from '../support/expected-rows';
import { expectHistoriesFreeOfMemberData } from '../support/history-privacy';

jest.setTimeout(600_000);

/** 40,000 members (44,000 rows) make five upload batches; at 1.5 s per Graph call an upload takes long enough to interrupt. */
const MEMBERS = 40_000;
const BATCHES = 5;

/**
 * Crashes at the worst moments: the worker killed with SIGKILL in the middle of an upload, and the Temporal server
 * restarted during a cycle. Each ends with exactly the source rows at the emulator.
 */
describe('crash recovery, end to end', () => {
  let stack: TestStack;
  let members: TestMember[];
  const keys: string[] = [];

  beforeAll(async () => {
    const dataDir = mkdtempSync(path.join(tmpdir(), 'audience-sync-crash-'));
    stack = await TestStack.start({
      dbFilename: path.join(dataDir, 'temporal.sqlite'),
      emulator: { latencyMs: 1500 },
      env: { UPLOAD_CONCURRENCY: '1' },
    });
    members = Array.from({ length: MEMBERS }, (_, i) => member(i + 1));
  });

  afterAll(async () => {
    await expectHistoriesFreeOfMemberData(stack, keys, members.slice(0, 200));
    await stack?.stop();
  });

  async function prepareAudience(name: string): Promise<{ key: string; table: string }> {
    const key = `${name}-${stack.suffix}`;
    const table = `crash_${name.replace(/-/g, '_')}_${stack.suffix}`;
    keys.push(key);
    await createMemberTable(stack.pool, table);
    await writeMembers(stack.pool, table, members);
    return { key, table };
  }

  async function connect(key: string, table: string): Promise<void> {
    const result = await stack.cli(['connect', '--audience', key, '--name', key, '--ad-account', 'act_7770001',
      '--query', `SELECT user_id, email, phone, traits FROM ${table}`]);
    expect(result.code).toBe(0);
  }

  /** Calls from before the current test are left out. */
  let firstSeq = 0;
  const usersCalls = async (): Promise<CallLogEntry[]> =>
    (await stack.emulatorJson<CallLogEntry[]>(`/_emulator/calls?since=${firstSeq}`)).filter((call) =>
      call.path.endsWith('/users'),
    );
  beforeEach(async () => {
    const calls = await stack.emulatorJson<CallLogEntry[]>('/_emulator/calls');
    firstSeq = calls.length > 0 ? calls[calls.length - 1].seq : 0;
  });

  async function waitForUsersCalls(count: number): Promise<void> {
    await eventually(async () => (await usersCalls()).length >= count, 120_000);
  }

  async function expectSyncedExactly(key: string): Promise<AudienceStatus> {
    const status = await eventually(async () => {
      const current = await stack.cliJson<AudienceStatus>(['status', key]);
      return current.cyclesCompleted >= 1 && current.state !== 'syncing' && current;
    }, 300_000);
    expect(status.state).toBe('synced');
    const held = await stack.emulatorJson<{ schema: string[]; rows: unknown[][] }>(
      `/_emulator/audiences/${status.fbAudienceId}/rows`,
    );
    expect(asSortedJson(held.rows)).toEqual(expectedRows(held.schema, members));
    return status;
  }

  it('converges to exactly the source rows when the worker is killed mid-upload, re-sending at most the batch in flight', async () => {
    const { key, table } = await prepareAudience('sigkill');
    let worker = await stack.startWorker();
    await connect(key, table);
    const kills = [1, 3, 5];
    for (const callsSeen of kills) {
      await waitForUsersCalls(callsSeen);
      await worker.stop('SIGKILL');
      worker = await stack.startWorker();
    }
    await expectSyncedExactly(key);

    const calls = await usersCalls();
    const accepted = calls.filter((call) => call.status === 200);
    // Every batch went through once, plus at most the one in flight at each kill.
    expect(calls.length).toBeGreaterThanOrEqual(BATCHES);
    expect(calls.length).toBeLessThanOrEqual(BATCHES + kills.length);
    expect(accepted.reduce((sum, call) => sum + call.rows, 0)).toBeLessThanOrEqual(44_000 + kills.length * 10_000);
    const history = await stack.cliJson<{ outcome: string; added: number }[]>(['history', key]);
    expect(history[0]).toEqual(expect.objectContaining({ outcome: 'synced', added: 44_000 }));
    await worker.stop();
  });

  it('finishes the cycle with exact rows when the Temporal server restarts during it', async () => {
    const { key, table } = await prepareAudience('server-restart');
    const worker = await stack.startWorker();
    await connect(key, table);
    await waitForUsersCalls(2);
    await stack.restartDevServer();
    await expectSyncedExactly(key);
    expect((await usersCalls()).length).toBe(BATCHES);
    await worker.stop();
  });
});
