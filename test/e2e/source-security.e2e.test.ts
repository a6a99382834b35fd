import { existsSync } from 'node:fs';
import type { SyncNowResult } from '../../src/workflows/messages';
import type { AudienceStatus } from '../../src/workflows/audience-status';
import { AudienceClient } from '../../src/client/audience-client';
import { readEnvironment } from '../../src/config/environment';
import { DEFAULT_MAX_CYCLES_PER_RUN } from '../../src/workflows/audience-config';
import { TestStack, eventually, TEST_DATABASE_URL, type WorkerProcess } from '../support/test-stack';
import { createMemberTable, member, writeMembers } from '../support/expected-rows';

jest.setTimeout(300_000);

interface CycleRow {
  outcome: string;
  message: string | null;
}

/**
 * Who can run what on the source, end to end: the CLI and the worker refuse an audience query that is more than
 * one SELECT, the worker runs none as a privileged role unless told it may, and the database's refusals reach
 * `status`.
 */
describe('the audience query and the source role, end to end', () => {
  let stack: TestStack;
  let worker: WorkerProcess;
  let table: string;
  const markerFile = () => `/tmp/audience-sync-e2e-${stack.suffix}`;
  const breakout = () =>
    `SELECT 'u1'::text AS user_id, 'a@b.co' AS email) AS s LIMIT 0; COPY (SELECT 2) TO PROGRAM 'touch ${markerFile()}'; ` +
    `SELECT * FROM (SELECT 'u1'::text AS user_id, 'a@b.co' AS email`;

  beforeAll(async () => {
    stack = await TestStack.start();
    table = `security_${stack.suffix}`;
    await createMemberTable(stack.pool, table);
    await writeMembers(stack.pool, table, Array.from({ length: 150 }, (_, i) => member(1_200_000 + i)));
    worker = await stack.startWorker();
  });

  afterAll(async () => {
    expect(existsSync(markerFile())).toBe(false);
    await stack?.stop();
  });

  const connect = (key: string, query: string, ...flags: string[]) =>
    stack.cli(['connect', '--audience', key, '--name', key, '--ad-account', 'act_9990003', '--query', query, ...flags]);
  const status = (key: string) => stack.cliJson<AudienceStatus>(['status', key]);

  it('connect refuses a query that is not one SELECT, with or without --no-check, and starts nothing', async () => {
    const key = `breakout-cli-${stack.suffix}`;
    for (const flags of [[], ['--no-check']]) {
      const result = await connect(key, breakout(), ...flags);
      expect(result.code).toBe(1);
      expect(result.stderr.trim()).toBe(
        'audience-sync: The audience query must be one SELECT statement; it does not parse: syntax error at or near ")" at character 48.',
      );
    }
    expect((await stack.cli(['status', key])).code).toBe(1);
  });

  it('connect does not try a query as a privileged role', async () => {
    const result = await stack.cli(
      ['connect', '--audience', `privileged-cli-${stack.suffix}`, '--name', 'x', '--ad-account', 'act_9990003', '--query', `SELECT user_id, email FROM ${table}`],
      { SOURCE_DATABASE_URL: TEST_DATABASE_URL },
    );
    expect(result.code).toBe(1);
    expect(result.stderr).toMatch(/^audience-sync: The query was not tried: Audience queries run as the role postgres, which is a superuser: /);
  });

  it('a workflow started by any Temporal client with a breakout fails its cycle with the sentence and runs nothing', async () => {
    const key = `breakout-client-${stack.suffix}`;
    const client = await AudienceClient.connect(readEnvironment(stack.env));
    try {
      await client.connectAudience({
        audienceKey: key,
        name: key,
        adAccountId: 'act_9990003',
        sourceSql: breakout(),
        intervalMs: 60 * 60 * 1000,
        minSize: 100,
        customerFileSource: 'USER_PROVIDED_ONLY',
        maxCyclesPerRun: DEFAULT_MAX_CYCLES_PER_RUN,
      });
    } finally {
      await client.close();
    }
    const failed = await eventually(async () => {
      const current = await status(key);
      return current.state === 'failed' ? current : undefined;
    });
    expect(failed.summary).toBe(
      'The last cycle failed: The audience query must be one SELECT statement; it does not parse: syntax error at or ' +
        `near ")" at character 48. It is tried again at the next cycle. Next cycle at ${failed.nextCycleAt}.`,
    );
    const history = await stack.cliJson<CycleRow[]>(['history', key]);
    expect(history[0]).toMatchObject({ outcome: 'failed', message: expect.stringMatching(/must be one SELECT statement/) });
    expect(worker.process.exitCode).toBeNull();
  });

  it("the database's permission denied reaches status", async () => {
    const key = `read-file-${stack.suffix}`;
    expect((await connect(key, `SELECT user_id, pg_read_file('/etc/hostname') AS email FROM ${table}`, '--no-check')).code).toBe(0);
    const failed = await eventually(async () => {
      const current = await status(key);
      return current.state === 'failed' ? current : undefined;
    });
    expect(failed.summary).toMatch(/^The last cycle failed: The source query failed: permission denied for function pg_read_file \(SQLSTATE 42501\)\./);
  });

  it('a worker whose source role is a superuser parks the audience until allowed, and then says it runs privileged', async () => {
    await worker.stop();
    worker = await stack.startWorker({ SOURCE_DATABASE_URL: TEST_DATABASE_URL });
    const key = `privileged-${stack.suffix}`;
    expect((await connect(key, `SELECT user_id, email FROM ${table}`, '--no-check')).code).toBe(0);
    const parked = await eventually(async () => {
      const current = await status(key);
      return current.state === 'needs_attention' ? current : undefined;
    });
    expect(parked.summary).toMatch(
      /^Needs attention: Audience queries run as the role postgres, which is a superuser: point SOURCE_DATABASE_URL at a role that can only read the audience tables \(the README's "Security" section shows how\)\./,
    );
    expect(parked.fbAudienceId).not.toBeNull();
    const rows = await stack.emulatorJson<{ rows: unknown[] }>(`/_emulator/audiences/${parked.fbAudienceId}/rows`);
    expect(rows.rows).toHaveLength(0);

    await worker.stop();
    worker = await stack.startWorker({ SOURCE_DATABASE_URL: TEST_DATABASE_URL, SOURCE_ALLOW_PRIVILEGED_ROLE: 'true' });
    await stack.cli(['resume', key]);
    const synced = await eventually(async () => {
      const current = await status(key);
      return current.state === 'synced' ? current : undefined;
    });
    expect(synced.summary).toMatch(
      / Runs privileged: audience queries run as the role postgres, which is a superuser \(SOURCE_ALLOW_PRIVILEGED_ROLE is set\)\.$/,
    );
    const again = await stack.cliJson<SyncNowResult>(['sync-now', key, '--wait']);
    expect(again.cycle?.outcome).toBe('unchanged');
  });
});
