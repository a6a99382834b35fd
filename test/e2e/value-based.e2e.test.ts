import type { AudienceStatus } from '../../src/workflows/audience-status';
import type { SyncNowResult } from '../../src/workflows/messages';
import { TestStack, eventually } from '../support/test-stack';
import { asSortedJson, sha256 } from '../support/expected-rows';

jest.setTimeout(300_000);

/**
 * A value-based audience end to end: created with is_value_based, every row carrying its member's value as an
 * unhashed LOOKALIKE_VALUE, members without a usable value left out and counted, a changed value moving the
 * member's rows, and a reconnection that would switch the audience between value-based and not refused.
 */
describe('value-based audiences, end to end', () => {
  let stack: TestStack;
  const table = () => `valued_members_${stack.suffix}`;
  const values = new Map<string, number | null>(
    Array.from({ length: 150 }, (_, i): [string, number | null] => [`v${i}`, i === 7 ? null : i === 8 ? -5 : 100 + i * 10.25]),
  );

  beforeAll(async () => {
    stack = await TestStack.start();
    await stack.startWorker();
  });

  afterAll(async () => {
    await stack?.stop();
  });

  async function writeMembers(): Promise<void> {
    await stack.pool.query(`TRUNCATE ${table()}`);
    await stack.pool.query(`INSERT INTO ${table()} (user_id, email, ltv) SELECT * FROM unnest($1::text[], $2::text[], $3::numeric[])`, [
      [...values.keys()],
      [...values.keys()].map((id) => `${id}@example.com`),
      [...values.values()],
    ]);
  }

  /** Meta's rows: members with a non-negative value, that value to three significant digits, unhashed. */
  function expectedRows(schema: string[]): string[] {
    return [...values]
      .filter((entry): entry is [string, number] => entry[1] !== null && entry[1] >= 0)
      .map(([id, value]) => {
        const cells: Record<string, unknown> = { EMAIL: sha256(`${id}@example.com`), LOOKALIKE_VALUE: Number(value.toPrecision(3)) };
        return JSON.stringify(schema.map((key) => cells[key] ?? ''));
      })
      .sort();
  }

  it('uploads each member with their value, leaves out those without one, and moves a member whose value changed', async () => {
    await stack.pool.query(`DROP TABLE IF EXISTS ${table()}`);
    await stack.pool.query(`CREATE TABLE ${table()} (user_id text PRIMARY KEY, email text, ltv numeric)`);
    await writeMembers();
    const key = `valued-${stack.suffix}`;
    const connected = await stack.cli(['connect', '--audience', key, '--name', key, '--ad-account', 'act_4440001',
      '--query', `SELECT user_id, email, ltv FROM ${table()}`, '--value-column', 'ltv']);
    expect(connected.code).toBe(0);
    const first = await eventually(async () => {
      const current = await stack.cliJson<AudienceStatus>(['status', key]);
      return current.state === 'synced' && current;
    });
    expect(first).toMatchObject({ valueColumn: 'ltv', memberCount: 148 });
    expect(first.lastCycle?.coverage.LOOKALIKE_VALUE).toBe(148);
    expect(first.lastCycle?.drops).toMatchObject({ 'LOOKALIKE_VALUE:invalid_value': 2 });
    const audiences = await stack.emulatorJson<{ id: string; is_value_based: boolean }[]>('/_emulator/audiences');
    expect(audiences.find((audience) => audience.id === first.fbAudienceId)?.is_value_based).toBe(true);
    const held = async () =>
      stack.emulatorJson<{ schema: string[]; rows: unknown[][] }>(`/_emulator/audiences/${first.fbAudienceId}/rows`);
    const before = await held();
    expect(before.schema.at(-1)).toBe('LOOKALIKE_VALUE');
    expect(asSortedJson(before.rows)).toEqual(expectedRows(before.schema));

    // One value doubles; another moves by cents, which three significant digits do not see.
    values.set('v10', 409);
    values.set('v11', (values.get('v11') as number) + 0.01);
    await writeMembers();
    const changed = await stack.cliJson<SyncNowResult>(['sync-now', key, '--wait']);
    expect(changed.cycle).toMatchObject({ outcome: 'synced', added: 1, removed: 1 });
    expect(asSortedJson((await held()).rows)).toEqual(expectedRows(before.schema));

    // The same key connected again as a plain audience finds its value-based Custom Audience, and refuses it.
    expect((await stack.cli(['disconnect', key])).code).toBe(0);
    const plain = await stack.cli(['connect', '--audience', key, '--name', key, '--ad-account', 'act_4440001',
      '--query', `SELECT user_id, email FROM ${table()}`]);
    expect(plain.code).toBe(0);
    const refused = await eventually(async () => {
      const current = await stack.cliJson<AudienceStatus>(['status', key]).catch(() => undefined);
      return current?.state === 'failed' && current;
    });
    expect(refused.summary).toMatch(/cannot switch between value-based and not, so connect a new audience key instead/);
  });
});
