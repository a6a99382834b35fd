import { randomBytes } from 'node:crypto';
import type { SyncNowResult } from '../../src/workflows/messages';
import { TestStack, type WorkerProcess } from '../support/test-stack';
import { asSortedJson, createMemberTable, expectedRows, member, writeMembers, type TestMember } from '../support/expected-rows';
import { expectHistoriesFreeOfMemberData } from '../support/history-privacy';
import { TEST_READER_ROLE } from '../support/source-reader';

jest.setTimeout(300_000);

interface CycleRow {
  outcome: string;
  message: string | null;
  dropped: number;
  drops: Record<string, number>;
  members: number;
  adds: number;
}

/**
 * The guards that stand between a bad source and Meta: a source that suddenly returns nothing, a query that fails
 * or runs too long or tries to write, and data full of garbage.
 */
describe('guards against bad sources and bad data, end to end', () => {
  let stack: TestStack;
  let worker: WorkerProcess;
  const keys: string[] = [];
  const everyone: TestMember[] = [];

  beforeAll(async () => {
    stack = await TestStack.start({ env: { SOURCE_STATEMENT_TIMEOUT: '2s' } });
    worker = await stack.startWorker();
  });

  afterAll(async () => {
    await expectHistoriesFreeOfMemberData(stack, keys, everyone);
    await stack?.stop();
  });

  async function connected(name: string, members: TestMember[], query: (table: string) => string) {
    const key = `${name}-${stack.suffix}`;
    const table = `guards_${name.replace(/-/g, '_')}_${stack.suffix}`;
    keys.push(key);
    everyone.push(...members);
    await createMemberTable(stack.pool, table);
    await writeMembers(stack.pool, table, members);
    const result = await stack.cli(['connect', '--audience', key, '--name', key, '--ad-account', 'act_9990001',
      '--query', query(table), '--no-check']);
    expect(result.code).toBe(0);
    return { key, table };
  }

  const syncNow = (key: string, ...flags: string[]) => stack.cliJson<SyncNowResult>(['sync-now', key, '--wait', ...flags]);
  const rowsAt = async (fbAudienceId: string | null) =>
    asSortedJson((await stack.emulatorJson<{ rows: unknown[][] }>(`/_emulator/audiences/${fbAudienceId}/rows`)).rows);

  it('holds instead of removing when the source suddenly returns no rows', async () => {
    const members = Array.from({ length: 1000 }, (_, i) => member(600_000 + i));
    const { key, table } = await connected('emptied', members, (t) => `SELECT user_id, email, phone, traits FROM ${t}`);
    const first = await syncNow(key);
    const before = await rowsAt(first.status.fbAudienceId);
    expect(before).toHaveLength(1100);

    await stack.pool.query(`TRUNCATE ${table}`);
    const held = await syncNow(key);
    expect(held.cycle?.outcome).toBe('needs_confirmation');
    expect(held.status.state).toBe('needs_confirmation');
    expect(held.status.summary).toMatch(/would remove 1100 of the 1100 rows.*--allow-mass-removal/);
    expect(await rowsAt(first.status.fbAudienceId)).toEqual(before);

    await writeMembers(stack.pool, table, members.slice(0, 900));
    const allowed = await syncNow(key, '--allow-mass-removal');
    expect(allowed.cycle?.outcome).toBe('synced');
    const held2 = await stack.emulatorJson<{ schema: string[]; rows: unknown[][] }>(
      `/_emulator/audiences/${first.status.fbAudienceId}/rows`,
    );
    expect(asSortedJson(held2.rows)).toEqual(expectedRows(held2.schema, members.slice(0, 900)));
  });

  it('fails the cycle with the error in status and history, and changes nothing at Meta, when the query breaks', async () => {
    const members = Array.from({ length: 200 }, (_, i) => member(700_000 + i));
    const { key, table } = await connected('broken', members, (t) => `SELECT user_id, email, phone, traits FROM ${t}`);
    const first = await syncNow(key);
    const before = await rowsAt(first.status.fbAudienceId);
    await stack.pool.query(`ALTER TABLE ${table} RENAME COLUMN email TO email_address`);

    const failed = await syncNow(key);
    expect(failed.cycle?.outcome).toBe('failed');
    expect(failed.status.state).toBe('failed');
    expect(failed.status.summary).toMatch(/source query failed: column "email" does not exist \(SQLSTATE 42703\)/);
    const history = await stack.cliJson<CycleRow[]>(['history', key]);
    expect(history[0]).toEqual(expect.objectContaining({ outcome: 'failed', message: expect.stringMatching(/42703/) }));
    expect(await rowsAt(first.status.fbAudienceId)).toEqual(before);

    await stack.pool.query(`ALTER TABLE ${table} RENAME COLUMN email_address TO email`);
    expect((await syncNow(key)).cycle?.outcome).toBe('unchanged');
  });

  it('cancels a query that runs past SOURCE_STATEMENT_TIMEOUT', async () => {
    const members = Array.from({ length: 200 }, (_, i) => member(800_000 + i));
    const { key } = await connected('slow', members, (t) =>
      // pg_sleep in the select list runs once per row: 200 rows take 10 s.
      `SELECT user_id, email, phone, traits, pg_sleep(0.05)::text AS pause FROM ${t}`);
    const result = await syncNow(key);
    expect(result.cycle?.outcome).toBe('failed');
    expect(result.cycle?.message).toMatch(/cancelled after the statement timeout of 2s/);
  });

  it('runs the source query read-only', async () => {
    const members = Array.from({ length: 150 }, (_, i) => member(900_000 + i));
    const sequence = `guards_writes_${stack.suffix}`;
    await stack.pool.query(`CREATE SEQUENCE ${sequence}`);
    // The source role may use it: what stops the write is the read-only transaction, not a missing grant.
    await stack.pool.query(`GRANT USAGE ON SEQUENCE ${sequence} TO ${TEST_READER_ROLE}`);
    const { key, table } = await connected('writer', members, (t) =>
      `SELECT user_id, email, phone, traits FROM ${t} WHERE nextval('${sequence}') > 0`);
    const result = await syncNow(key);
    expect(result.cycle?.outcome).toBe('failed');
    expect(result.cycle?.message).toMatch(/read-only transaction/);
    const { rows } = await stack.pool.query(`SELECT count(*)::int AS n FROM ${table}`);
    expect(rows[0].n).toBe(150);
    await stack.pool.query(`DROP SEQUENCE ${sequence}`);
  });

  it('survives 10,000 profiles of random Unicode, empty and malformed traits, counting what it drops', async () => {
    const key = `garbage-${stack.suffix}`;
    const table = `guards_garbage_${stack.suffix}`;
    keys.push(key);
    await stack.pool.query(`DROP TABLE IF EXISTS ${table}`);
    await stack.pool.query(`CREATE TABLE ${table} (user_id text, email text, phone text, first_name text, last_name text,
      gender text, birthday text, city text, state text, zip text, country_code text, madid text, traits jsonb)`);
    const profiles = Array.from({ length: 10_000 }, (_, i) => garbageProfile(i));
    await stack.pool.query(
      `INSERT INTO ${table} SELECT * FROM jsonb_populate_recordset(NULL::${table}, $1::jsonb)`,
      [JSON.stringify(profiles)],
    );
    const result = await stack.cli(['connect', '--audience', key, '--name', key, '--ad-account', 'act_9990001',
      '--query', `SELECT * FROM ${table}`]);
    expect(result.code).toBe(0);
    // The cycle started by connect may already have uploaded everything, leaving this one unchanged; drops are
    // counted in the cycle that read the members.
    const latest = await syncNow(key);
    expect(['synced', 'unchanged']).toContain(latest.cycle?.outcome);
    const history = await stack.cliJson<CycleRow[]>(['history', key]);
    const uploads = history.filter((cycle) => cycle.outcome === 'synced');
    expect(uploads).toHaveLength(1);
    expect(uploads[0].dropped).toBeGreaterThan(1000);
    expect(Object.keys(uploads[0].drops).length).toBeGreaterThan(3);
    const held = await rowsAt(latest.status.fbAudienceId);
    expect(held).toHaveLength(uploads[0].adds);
    expect(worker.process.exitCode).toBeNull();
  });
});

const JUNK = ['', ' ', 'null', 'N/A', '@', 'a@', '@b.c', '+', '+0000000000', '00', '---', '💥', '\u0000x', 'Ω≈ç√', '١٢٣', 'ｆｕｌｌ'];

/** A profile of noise: random Unicode, junk that looks like data, nested and mistyped traits; now and then a real email. */
function garbageProfile(i: number): Record<string, unknown> {
  const noise = () => {
    const roll = Math.random();
    if (roll < 0.3) return JUNK[Math.floor(Math.random() * JUNK.length)].replace(/\u0000/g, '');
    if (roll < 0.4) return null;
    return randomBytes(1 + Math.floor(Math.random() * 24)).toString('utf8').replace(/\u0000/g, '');
  };
  const traitValues = [noise(), [noise(), noise()], { nested: noise() }, 12345, true, null, [[noise()]]];
  const trait = () => traitValues[Math.floor(Math.random() * traitValues.length)];
  return {
    user_id: i % 500 === 0 ? null : `g${i}`,
    email: i % 4 === 0 ? `garbage${i}@example.com` : noise(),
    phone: noise(),
    first_name: noise(),
    last_name: noise(),
    gender: noise(),
    birthday: noise(),
    city: noise(),
    state: noise(),
    zip: noise(),
    country_code: noise(),
    madid: noise(),
    traits: { email: trait(), phone: trait(), birthday: trait(), idfa: trait(), emails: trait(), 'first name': trait() },
  };
}
