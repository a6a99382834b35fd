import { randomUUID } from 'node:crypto';
import { createPool, inTransaction, SCHEMA } from '../../src/db/pool';
import { migrate } from '../../src/db/migrations';
import { StateInvariantError } from '../../src/db/state-invariant';
import { finishCycle, lastCountedMembership, openCycle, readCycle, recordPlan } from '../../src/db/sync-cycles';

const pool = createPool(process.env.DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/postgres');
const audienceKey = `sync-cycles-${randomUUID()}`;

beforeAll(() => migrate(pool));

afterAll(async () => {
  await pool.query(`DELETE FROM ${SCHEMA}.sync_cycles WHERE audience_key = $1`, [audienceKey]);
  await pool.end();
});

async function planned(members: number | undefined): Promise<string> {
  const cycleId = randomUUID();
  await inTransaction(pool, async (client) => {
    await openCycle(client, { audienceKey, cycleId, fbAudienceId: '1' });
    if (members === undefined) return;
    const plan = { members, sourceRows: members, rebuiltMembers: 0, adds: 0, removes: 0, dropped: 0, drops: {} };
    await recordPlan(client, cycleId, { ...plan, coverage: { EMAIL: members } });
  });
  return cycleId;
}

describe('lastCountedMembership', () => {
  it('gives the latest recorded count, skipping cycles that recorded no plan, and the same cycle after a retry', async () => {
    expect(await lastCountedMembership(pool, audienceKey)).toBeUndefined();
    await planned(5);
    await planned(undefined);
    expect(await lastCountedMembership(pool, audienceKey)).toEqual({ members: 5, coverage: { EMAIL: 5 } });
    const retried = await planned(7);
    // A retried preparation opens its cycle again; what its first attempt counted is still the latest count.
    await inTransaction(pool, (client) => openCycle(client, { audienceKey, cycleId: retried, fbAudienceId: '1' }));
    expect(await lastCountedMembership(pool, audienceKey)).toEqual({ members: 7, coverage: { EMAIL: 7 } });
  });
});

describe('openCycle', () => {
  const open = (cycleId: string) => inTransaction(pool, (client) => openCycle(client, { audienceKey, cycleId, fbAudienceId: '1' }));

  it('reopens a cycle an attempt of its preparation ended, and refuses one ended past it, leaving its record', async () => {
    const [unchanged, synced] = [randomUUID(), randomUUID()];
    for (const [cycleId, outcome] of [[unchanged, 'unchanged'], [synced, 'synced']] as const) {
      await open(cycleId);
      await finishCycle(pool, cycleId, outcome, 'as it ended');
    }
    await open(unchanged);
    expect(await readCycle(pool, unchanged)).toMatchObject({ outcome: 'running', message: null });
    await expect(open(synced)).rejects.toThrow(StateInvariantError);
    expect(await readCycle(pool, synced)).toMatchObject({ outcome: 'synced', message: 'as it ended' });
  });
});
