import { randomUUID } from 'node:crypto';
import { createPool, inTransaction, SCHEMA } from '../../src/db/pool';
import { migrate } from '../../src/db/migrations';
import { StateInvariantError } from '../../src/db/state-invariant';
import { finishCycle, lastCountedMembership, openCycle, readCycle, recordPlan, type CycleOutcome } from '../../src/db/sync-cycles';

const pool = createPool(process.env.DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/postgres');
const audienceKey = `sync-cycles-${randomUUID()}`;

beforeAll(() => migrate(pool));

/** Audiences of the openCycle tests, each its own. */
const audiences: string[] = [];

afterAll(async () => {
  await pool.query(`DELETE FROM ${SCHEMA}.sync_cycles WHERE audience_key = ANY ($1)`, [[audienceKey, ...audiences]]);
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
  /** Cycles of their own audience, opened in turn (then ended, if given an outcome), by their ids. */
  async function cyclesOf(...outcomes: (CycleOutcome | undefined)[]): Promise<{ audience: string; ids: string[] }> {
    const audience = `${audienceKey}-${randomUUID()}`;
    audiences.push(audience);
    const ids: string[] = [];
    for (const outcome of outcomes) {
      const cycleId = randomUUID();
      ids.push(cycleId);
      await inTransaction(pool, (client) => openCycle(client, { audienceKey: audience, cycleId, fbAudienceId: '1' }));
      if (outcome && outcome !== 'running') await finishCycle(pool, cycleId, outcome, 'as it ended');
    }
    return { audience, ids };
  }
  const reopen = (audience: string, cycleId: string) =>
    inTransaction(pool, (client) => openCycle(client, { audienceKey: audience, cycleId, fbAudienceId: '1' }));

  it('reopens the last cycle when its preparation ended it, running again', async () => {
    const { audience, ids } = await cyclesOf('unchanged');
    await reopen(audience, ids[0]);
    expect(await readCycle(pool, ids[0])).toMatchObject({ outcome: 'running', message: null, finishedAt: null });
  });

  it('refuses a cycle that ended past its preparation, leaving its record and its batches', async () => {
    const { audience, ids } = await cyclesOf('synced');
    await pool.query(
      `INSERT INTO ${SCHEMA}.cycle_batches (cycle_id, operation, batch_no, first_hash, last_hash, row_count) VALUES ($1, 'add', 1, '\\x00', '\\xff', 1)`,
      [ids[0]],
    );
    await expect(reopen(audience, ids[0])).rejects.toThrow(StateInvariantError);
    expect(await readCycle(pool, ids[0])).toMatchObject({ outcome: 'synced', message: 'as it ended' });
    const { rows } = await pool.query(`SELECT count(*)::int AS batches FROM ${SCHEMA}.cycle_batches WHERE cycle_id = $1`, [ids[0]]);
    expect(rows).toEqual([{ batches: 1 }]);
  });

  it('refuses a cycle the audience went on from, leaving the cycle running now as it is', async () => {
    const { audience, ids } = await cyclesOf('unchanged', 'running');
    await expect(reopen(audience, ids[0])).rejects.toThrow(StateInvariantError);
    expect(await readCycle(pool, ids[0])).toMatchObject({ outcome: 'unchanged' });
    expect(await readCycle(pool, ids[1])).toMatchObject({ outcome: 'running' });
  });

  it('ends only a running cycle: one that has ended keeps how it did', async () => {
    const { ids } = await cyclesOf('unchanged');
    await finishCycle(pool, ids[0], 'failed', 'the workflow gave up on it');
    expect(await readCycle(pool, ids[0])).toMatchObject({ outcome: 'unchanged', message: 'as it ended' });
  });
});
