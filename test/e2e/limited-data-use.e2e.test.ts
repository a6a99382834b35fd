import type { AudienceStatus } from '../../src/workflows/audience-status';
import type { SyncNowResult } from '../../src/workflows/messages';
import { TestStack, eventually } from '../support/test-stack';
import { asSortedJson, sha256 } from '../support/expected-rows';

jest.setTimeout(300_000);

interface LduMember {
  userId: string;
  email: string;
  state: 'CA' | 'NY';
  country: 'US' | null;
  asks: boolean;
}

/**
 * Limited Data Use end to end: members who ask for it (their `limited_data_use` trait) have rows carrying
 * DATA_PROCESSING_OPTIONS ["LDU"], placed in California when they live there, and a member who changes their mind
 * has their rows moved. The expected rows are built here from Meta's documented values alone.
 */
describe('Limited Data Use, end to end', () => {
  let stack: TestStack;
  const table = () => `ldu_members_${stack.suffix}`;

  beforeAll(async () => {
    stack = await TestStack.start();
    await stack.startWorker();
  });

  afterAll(async () => {
    await stack?.stop();
  });

  const members: LduMember[] = Array.from({ length: 150 }, (_, i) => ({
    userId: `ldu-${i}`,
    email: `ldu${i}@example.com`,
    state: i % 3 === 0 ? 'CA' : 'NY',
    country: i % 5 === 0 ? 'US' : null,
    asks: i % 2 === 0,
  }));

  async function writeMembers(): Promise<void> {
    await stack.pool.query(`TRUNCATE ${table()}`);
    await stack.pool.query(
      `INSERT INTO ${table()} (user_id, email, state, country, traits)
       SELECT * FROM unnest($1::text[], $2::text[], $3::text[], $4::text[], $5::jsonb[])`,
      [
        members.map((m) => m.userId),
        members.map((m) => m.email),
        members.map((m) => m.state),
        members.map((m) => m.country),
        members.map((m) => JSON.stringify({ limited_data_use: m.asks })),
      ],
    );
  }

  /** Each member's row in `schema`: hashed keys, then ["LDU"] and California's codes, or [] and 0, 0. */
  function expectedRows(schema: string[]): string[] {
    return members
      .map((m) => {
        const californian = m.asks && m.state === 'CA';
        const cells: Record<string, unknown> = {
          EMAIL: sha256(m.email),
          ST: sha256(m.state.toLowerCase()),
          COUNTRY: m.country ? sha256('us') : '',
          DATA_PROCESSING_OPTIONS: m.asks ? ['LDU'] : [],
          DATA_PROCESSING_OPTIONS_COUNTRY: californian ? 1 : 0,
          DATA_PROCESSING_OPTIONS_STATE: californian ? 1000 : 0,
        };
        return JSON.stringify(schema.map((key) => cells[key] ?? ''));
      })
      .sort();
  }

  it('uploads the LDU columns for those who ask, and moves a member who changes their mind', async () => {
    await stack.pool.query(`DROP TABLE IF EXISTS ${table()}`);
    await stack.pool.query(
      `CREATE TABLE ${table()} (user_id text PRIMARY KEY, email text, state text, country text, traits jsonb NOT NULL)`,
    );
    await writeMembers();
    const key = `ldu-${stack.suffix}`;
    const connected = await stack.cli(['connect', '--audience', key, '--name', key, '--ad-account', 'act_5550001',
      '--query', `SELECT user_id, email, state, country, traits FROM ${table()}`, '--limited-data-use', 'trait']);
    expect(connected.code).toBe(0);
    const first = await eventually(async () => {
      const current = await stack.cliJson<AudienceStatus>(['status', key]);
      return current.state === 'synced' && current;
    });
    expect(first.limitedDataUse).toBe('trait');
    expect(first.lastCycle?.coverage.LDU).toBe(75);
    const held = async () =>
      stack.emulatorJson<{ schema: string[]; rows: unknown[][] }>(`/_emulator/audiences/${first.fbAudienceId}/rows`);
    const before = await held();
    expect(before.schema.slice(-3)).toEqual(['DATA_PROCESSING_OPTIONS', 'DATA_PROCESSING_OPTIONS_COUNTRY', 'DATA_PROCESSING_OPTIONS_STATE']);
    expect(asSortedJson(before.rows)).toEqual(expectedRows(before.schema));

    // A Californian who asked withdraws; a New Yorker asks.
    members[0].asks = false;
    members[1].asks = true;
    await writeMembers();
    const changed = await stack.cliJson<SyncNowResult>(['sync-now', key, '--wait']);
    expect(changed.cycle).toMatchObject({ outcome: 'synced', added: 2, removed: 2, members: 150 });
    expect(changed.cycle?.coverage.LDU).toBe(75);
    expect(asSortedJson((await held()).rows)).toEqual(expectedRows(before.schema));

    const shown = await stack.cli(['status', key]);
    expect(shown.stdout).toContain('limited data use: members whose limited_data_use trait is true (75 in the last cycle)');
    const history = await stack.cli(['history', key]);
    expect(history.stdout.split('\n')[0]).toMatch(/\bLDU\b/);
  });
});
