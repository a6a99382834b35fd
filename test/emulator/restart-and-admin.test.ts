import { collectFaultFlag, runEmulatorCommand, type CallLogEntry } from '../../src/emulator';
import { AD_ACCOUNT, API_VERSION, DATABASE_URL, EmulatorTestKit, SCHEMA, TOKEN, personRow, usersBatch } from './emulator-test-kit';

const kit = new EmulatorTestKit('restart');

beforeAll(() => kit.start());
afterAll(() => kit.stop());
beforeEach(() => kit.admin('POST', '/_emulator/reset'));

describe('state in PostgreSQL', () => {
  it('survives a restart: audiences, rows, schema, revoked tokens and terms', async () => {
    const id = await kit.createAudience('Kept');
    await kit.client.addUsers(id, usersBatch(SCHEMA, [personRow(1), personRow(2)]));
    await kit.admin('POST', '/_emulator/tokens/revoke', { token: 'EAArevokedbeforerestart000000' });
    await kit.admin('POST', '/_emulator/ad-accounts/act_77/terms', { accepted: false });

    await kit.restart();

    expect(await kit.client.getCustomAudience(id, ['name', 'approximate_count_lower_bound'])).toEqual({
      id,
      name: 'Kept',
      approximate_count_lower_bound: 2,
    });
    expect((await kit.rowsOf(id)).rows).toHaveLength(2);
    const error = await kit.clientWith({ accessToken: 'EAArevokedbeforerestart000000' }).listCustomAudiences(AD_ACCOUNT, ['id']).catch((caught: unknown) => caught);
    expect(error).toMatchObject({ code: 190, subcode: 460 });
    expect(await kit.client.getAdAccountTermsAccepted('act_77')).toBe(false);
    // The first upload's schema is still enforced.
    await expect(kit.client.addUsers(id, usersBatch(['EMAIL'], [['']]))).rejects.toMatchObject({ code: 2650 });
  });

  it('is wiped by a reset, which also clears faults, the call log and settings changes', async () => {
    const id = await kit.createAudience();
    await kit.admin('POST', '/_emulator/faults', { fault: 'error', code: 2, match: { path: '/nowhere' } });
    await kit.admin('PATCH', '/_emulator/settings', { latencyMs: 5, minAudienceRows: 10 });

    await kit.admin('POST', '/_emulator/reset');

    expect(await kit.admin('GET', '/_emulator/audiences')).toEqual([]);
    expect(await kit.admin('GET', '/_emulator/faults')).toEqual([]);
    expect(await kit.admin('GET', '/_emulator/calls')).toEqual([]);
    expect(await kit.admin('GET', '/_emulator/settings')).toEqual({
      latencyMs: 0,
      throttle: null,
      minAudienceRows: 0,
      replaceWindowMs: 90 * 60 * 1000,
    });
    await expect(kit.client.getCustomAudience(id, ['id'])).rejects.toMatchObject({ kind: 'audience_gone' });
  });

  it('keeps only row keys when asked: the same set semantics and counts, and a clear refusal to list the rows', async () => {
    await kit.restart({ rowKeysOnly: true });
    try {
      const id = await kit.createAudience('Keys only');
      await kit.client.addUsers(id, usersBatch(SCHEMA, [personRow(1), personRow(2), personRow(3)]));
      // A held row again, and one never added: neither changes anything, as at Meta.
      await kit.client.addUsers(id, usersBatch(SCHEMA, [personRow(1)]));
      await kit.client.removeUsers(id, usersBatch(SCHEMA, [personRow(2), personRow(9)]));
      expect(await kit.client.getCustomAudience(id, ['approximate_count_lower_bound'])).toEqual({ id, approximate_count_lower_bound: 2 });
      const answer = await kit.admin<{ error: { message: string } }>('GET', `/_emulator/audiences/${id}/rows`, undefined, [409]);
      expect(answer.error.message).toMatch(/keeps only row keys.*cannot list rows/);
    } finally {
      await kit.restart();
    }
  });
});

describe('admin API', () => {
  it('answers 404 in Meta\'s envelope for an unknown audience', async () => {
    const answer = await kit.admin<{ error: { message: string } }>('GET', '/_emulator/audiences/123/rows', undefined, [404]);
    expect(answer.error.message).toContain('123');
  });

  it('keeps a call log without query strings or tokens, readable from a sequence number', async () => {
    const id = await kit.createAudience();
    await kit.client.addUsers(id, usersBatch(SCHEMA, [personRow(1), personRow(2)]));
    await kit.client.getCustomAudience('1', ['id']).catch(() => undefined);

    const calls = await kit.admin<CallLogEntry[]>('GET', '/_emulator/calls');
    expect(calls).toEqual([
      expect.objectContaining({ method: 'POST', path: `/${API_VERSION}/${AD_ACCOUNT}/customaudiences`, adAccountId: AD_ACCOUNT, status: 200, rows: 0 }),
      expect.objectContaining({ method: 'POST', path: `/${API_VERSION}/${id}/users`, adAccountId: AD_ACCOUNT, audienceId: id, status: 200, rows: 2 }),
      expect.objectContaining({ method: 'GET', path: `/${API_VERSION}/1`, audienceId: '1', status: 400, code: 100, subcode: 33 }),
    ]);
    expect(JSON.stringify(calls)).not.toContain(TOKEN);
    const seqs = calls.map((call) => call.seq);
    expect(await kit.admin<CallLogEntry[]>('GET', `/_emulator/calls?since=${seqs[1]}`)).toEqual([calls[2]]);
    expect(calls[0]?.at).toBeGreaterThan(Date.now() - 60_000);
  });

  it('adds latency to Graph calls only', async () => {
    await kit.admin('PATCH', '/_emulator/settings', { latencyMs: 250 });
    let started = Date.now();
    await kit.admin('GET', '/_emulator/audiences');
    expect(Date.now() - started).toBeLessThan(250);
    started = Date.now();
    await kit.client.listCustomAudiences(AD_ACCOUNT, ['id']);
    expect(Date.now() - started).toBeGreaterThanOrEqual(250);
  });
});

describe('the emulator command', () => {
  it('starts an emulator from parsed command-line options and stops it', async () => {
    const lines: string[] = [];
    const schema = `${kit.schema}_command`;
    const emulator = await runEmulatorCommand(
      { databaseUrl: DATABASE_URL, schema, port: 0, fault: collectFaultFlag('error:code=2,nextCalls=1'), latencyMs: 1 },
      { info: (line) => lines.push(line) },
    );
    try {
      const response = await fetch(`${emulator.url}/_emulator/health`);
      expect(await response.json()).toEqual({ status: 'ok' });
      expect(lines[0]).toContain(emulator.url);
      const faults = await fetch(`${emulator.url}/_emulator/faults`).then((answer) => answer.json());
      expect(faults).toEqual([expect.objectContaining({ fault: 'error', code: 2, nextCalls: 1 })]);
      const settings = await fetch(`${emulator.url}/_emulator/settings`).then((answer) => answer.json());
      expect(settings).toMatchObject({ latencyMs: 1 });
    } finally {
      await emulator.close();
      const { Pool } = await import('pg');
      const pool = new Pool({ connectionString: DATABASE_URL });
      await pool.query(`DROP SCHEMA IF EXISTS "${schema}" CASCADE`);
      await pool.end();
    }
  });
});
