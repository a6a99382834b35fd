import type { AudienceStatus } from '../../src/workflows/audience-status';
import type { SyncNowResult } from '../../src/workflows/messages';
import { TestStack, eventually } from '../support/test-stack';

jest.setTimeout(300_000);

interface EmulatedAudience {
  id: string;
  name: string;
  subtype: string;
  deleted: boolean;
  origin_audience_id: string | null;
  lookalike_spec: { ratio: number; country: string } | null;
}

/**
 * Lookalikes kept beside a value-based seed: made once the seed holds 100 members at Meta, one per
 * `--lookalike`, idempotently; Meta's refusal of one shown in status without failing the sync; one deleted at
 * Meta made again; renamed with the seed.
 */
describe('lookalikes, end to end', () => {
  let stack: TestStack;

  beforeAll(async () => {
    stack = await TestStack.start();
    await stack.startWorker();
  });

  afterAll(async () => {
    await stack?.stop();
  });

  it('makes each lookalike once the seed is synced, reports the ones Meta refuses, and keeps them', async () => {
    const table = `lookalike_seed_${stack.suffix}`;
    await stack.pool.query(`CREATE TABLE ${table} (user_id text PRIMARY KEY, email text, country text, ltv numeric)`);
    await stack.pool.query(
      `INSERT INTO ${table} SELECT 's' || g, 'seed' || g || '@example.com', 'US', g * 3.5 FROM generate_series(1, 150) AS g`,
    );
    const key = `seed-${stack.suffix}`;
    const connected = await stack.cli(['connect', '--audience', key, '--name', 'Best customers', '--ad-account', 'act_3330001',
      '--query', `SELECT user_id, email, country, ltv FROM ${table}`, '--value-column', 'ltv',
      '--lookalike', 'us:1', '--lookalike', 'gb:3']);
    expect(connected.code).toBe(0);
    const first = await eventually(async () => {
      const current = await stack.cliJson<AudienceStatus>(['status', key]);
      return current.state === 'synced' && current.lookalikes.some((known) => known.id) && current;
    });
    const [us, gb] = first.lookalikes;
    expect(us).toMatchObject({ country: 'US', percent: 1, id: expect.stringMatching(/^\d+$/) });
    // No seed member is in Great Britain: Meta refuses that one, and says so; the audience is still in sync.
    expect(gb).toMatchObject({ country: 'GB', percent: 3, id: null, problem: expect.stringContaining('from GB') });
    const shown = await stack.cli(['status', key]);
    expect(shown.stdout).toContain(`lookalike US 1%: ${us.id}`);
    expect(shown.stdout).toContain('lookalike GB 3%: not made yet. Meta did not create the lookalike GB 3%');

    const audiences = async () => stack.emulatorJson<EmulatedAudience[]>('/_emulator/audiences');
    const made = (await audiences()).filter((audience) => audience.subtype === 'LOOKALIKE' && !audience.deleted);
    expect(made).toEqual([
      expect.objectContaining({
        id: us.id,
        name: 'Best customers – lookalike US 1%',
        origin_audience_id: first.fbAudienceId,
        lookalike_spec: { ratio: 0.01, country: 'US' },
      }),
    ]);

    // Another cycle finds it, makes no second one, and shows Meta's size of it.
    await stack.cliJson<SyncNowResult>(['sync-now', key, '--wait']);
    expect((await audiences()).filter((audience) => audience.subtype === 'LOOKALIKE')).toHaveLength(1);
    expect((await stack.cli(['status', key])).stdout).toMatch(new RegExp(`lookalike US 1%: ${us.id}, about [\\d,]+–[\\d,]+ people`));

    // Deleted at Meta, it is made again at the next cycle.
    await stack.emulatorJson(`/_emulator/audiences/${us.id}`, { method: 'DELETE' });
    await stack.cliJson<SyncNowResult>(['sync-now', key, '--wait']);
    const again = await stack.cliJson<AudienceStatus>(['status', key]);
    expect(again.lookalikes[0].id).toMatch(/^\d+$/);
    expect(again.lookalikes[0].id).not.toBe(us.id);

    // Renamed with its seed.
    expect((await stack.cli(['rename', key, 'Top customers'])).code).toBe(0);
    await eventually(async () =>
      (await audiences()).some((audience) => audience.id === again.lookalikes[0].id && audience.name === 'Top customers – lookalike US 1%'),
    );

    // Changed on the running audience: answered once made, or deleted, at Meta.
    const added = await stack.cli(['lookalike', 'add', key, 'us:2']);
    expect(added.stdout).toMatch(/lookalike US 2%: \d+/);
    expect((await stack.cli(['lookalike', 'add', key, 'us:2'])).stderr).toContain('already keeps the lookalike US 2%');
    const removed = await stack.cli(['lookalike', 'remove', key, 'us:1', '--delete-at-meta']);
    expect(removed.stdout).toContain('no longer keeps the lookalike US 1%, which was deleted at Meta');
    expect((await stack.cli(['lookalike', 'remove', key, 'gb:3'])).code).toBe(0);
    const now = await stack.cliJson<AudienceStatus>(['status', key]);
    expect(now.lookalikes.map((known) => [known.country, known.percent])).toEqual([['US', 2]]);
    const live = (await audiences()).filter((audience) => audience.subtype === 'LOOKALIKE' && !audience.deleted);
    expect(live.map((audience) => audience.id)).toEqual([now.lookalikes[0].id]);

    // Disconnecting leaves the seed and its lookalike at Meta.
    expect((await stack.cli(['disconnect', key])).code).toBe(0);
    expect((await audiences()).filter((audience) => !audience.deleted).map((audience) => audience.id).sort()).toEqual(
      [first.fbAudienceId, now.lookalikes[0].id].sort(),
    );
  });
});
