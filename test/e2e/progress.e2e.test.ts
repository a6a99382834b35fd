import { CYCLE_STAGES } from '../../src/activities/cycle-progress';
import type { AudienceStatusWithProgress } from '../../src/client/audience-client';
import type { SyncNowResult } from '../../src/workflows/messages';
import { TestStack, eventually } from '../support/test-stack';
import { createMemberTable, member, sha256, writeMembers, type TestMember } from '../support/expected-rows';

jest.setTimeout(120_000);

/** 25,000 members are 27,500 rows: three upload batches, which at 1 s per Graph call take a few seconds to send. */
const MEMBERS = 25_000;
const ROWS = '27,500';

/**
 * What `sync-now --wait` and `status` show of a running cycle, on the compiled CLI and worker: the tests' output is
 * not a terminal, so progress comes as plain lines on stderr, and stdout holds the summary (or the JSON) alone.
 */
describe('cycle progress, end to end', () => {
  let stack: TestStack;
  let table: string;
  let key: string;
  let members: TestMember[];

  beforeAll(async () => {
    stack = await TestStack.start({ emulator: { latencyMs: 1000 }, env: { UPLOAD_CONCURRENCY: '1' } });
    table = `e2e_progress_${stack.suffix}`;
    key = `progress-${stack.suffix}`;
    members = Array.from({ length: MEMBERS }, (_, i) => member(i + 1));
    await createMemberTable(stack.pool, table);
    await stack.startWorker();
    const connected = await stack.cli(['connect', '--audience', key, '--name', 'Progress', '--ad-account', 'act_6660001',
      '--query', `SELECT user_id, email, phone, traits FROM ${table}`, '--interval', '1h']);
    expect(connected.code).toBe(0);
    // The first cycle finds no members; the members arrive for the cycles the tests watch.
    await eventually(async () => (await stack.cliJson<AudienceStatusWithProgress>(['status', key])).cyclesCompleted >= 1, 60_000);
    await writeMembers(stack.pool, table, members);
  });

  afterAll(async () => {
    await stack?.pool.query(`DROP TABLE IF EXISTS ${table}`);
    await stack?.stop();
  });

  /** Lines of progress on stderr, each naming the audience, none with a member's identifier or its hash. */
  function progressLines(stderr: string): string[] {
    const identifiers = members.flatMap((m) => [...m.emails, ...(m.phone ? [m.phone] : [])]);
    const leaked = [...identifiers, ...identifiers.slice(0, 500).map(sha256)].filter((text) => stderr.includes(text));
    expect(leaked).toEqual([]);
    const lines = stderr.trimEnd().split('\n');
    for (const line of lines) expect(line.startsWith(`${key}: `)).toBe(true);
    return lines;
  }

  it('prints the stages of the cycle it waits for, while status shows where the cycle is', async () => {
    const waiting = stack.cli(['sync-now', key, '--wait']);

    const during = await eventually(async () => {
      const status = await stack.cliJson<AudienceStatusWithProgress>(['status', key]);
      return status.progress?.stage ? status : undefined;
    }, 30_000);
    expect(during.state).toBe('syncing');
    expect(CYCLE_STAGES).toContain(during.progress?.stage);
    const text = await eventually(async () => {
      const shown = (await stack.cli(['status', key])).stdout;
      return /\n {2}in progress: +(reading|comparing|encoding|writing|uploading)/.test(shown) && shown;
    }, 30_000);
    expect(text.startsWith(`${key}: syncing\n  A sync cycle is running.\n  in progress: `)).toBe(true);

    const result = await waiting;
    expect(result.code).toBe(0);
    expect(result.stdout).toMatch(new RegExp(`^${key}: synced at \\S+: ${MEMBERS} members, 27500 to add / 0 to remove, added 27500, removed 0, 0 values dropped\\n$`));
    const lines = progressLines(result.stderr);
    expect(lines).toContainEqual(expect.stringMatching(new RegExp(`: uploading batch [1-3] of 3: [\\d,]+ of ${ROWS} rows \\(\\d+%\\)`)));
    // Plain lines come at a stage's start and then every ten seconds, not at every poll.
    expect(lines.length).toBeLessThan(12);
  });

  it('prints the batches of a replace', async () => {
    const result = await stack.cli(['sync-now', key, '--wait', '--replace']);
    expect(result.code).toBe(0);
    expect(result.stdout).toMatch(new RegExp(`^${key}: replaced at `));
    expect(progressLines(result.stderr)).toContainEqual(
      expect.stringMatching(new RegExp(`: replacing the audience at Meta, batch [1-3] of 3: [\\d,]+ of ${ROWS} rows`)),
    );
  });

  it('prints only the JSON with --json', async () => {
    // 2,000 members with new emails: a batch of removes and one of adds, seconds of upload that print nothing.
    members = members.map((m, i) => (i < 2_000 ? member(i + 1, 1) : m));
    await writeMembers(stack.pool, table, members);
    const result = await stack.cli(['sync-now', key, '--wait', '--json']);
    expect(result.stderr).toBe('');
    const answer = JSON.parse(result.stdout) as SyncNowResult;
    expect(answer.cycle).toMatchObject({ outcome: 'synced', members: MEMBERS, adds: 2_200, removes: 2_200 });
  });
});
