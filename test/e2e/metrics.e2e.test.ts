import { readFileSync } from 'node:fs';
import path from 'node:path';
import { freePort } from '../../src/local/polling';
import { exportedNames, METRICS } from '../../src/metrics/metric-catalog';
import type { AudienceStatus } from '../../src/workflows/audience-status';
import type { SyncNowResult } from '../../src/workflows/messages';
import { createMemberTable, member, writeMembers } from '../support/expected-rows';
import { TestStack, eventually, type WorkerProcess } from '../support/test-stack';

jest.setTimeout(180_000);

const DASHBOARD = path.resolve(__dirname, '../../docker/grafana/dashboards/audience-sync.json');

/** One series of a Prometheus text scrape: its name, labels and value. */
interface Sample {
  name: string;
  labels: Record<string, string>;
  value: number;
}

function parseScrape(text: string): Sample[] {
  const samples: Sample[] = [];
  for (const line of text.split('\n')) {
    const match = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})? (\S+)$/.exec(line);
    if (!match) continue;
    const labels = Object.fromEntries([...(match[2] ?? '').matchAll(/(\w+)="((?:[^"\\]|\\.)*)"/g)].map((m) => [m[1], m[2]]));
    samples.push({ name: match[1] as string, labels, value: Number(match[3]) });
  }
  return samples;
}

/**
 * The worker's Prometheus endpoint, scraped after real cycles: Temporal's SDK metrics and audience-sync's on one
 * endpoint, with values that match what the cycles did, labels that carry keys and ids only, and a Grafana
 * dashboard whose every query names a metric the worker exports.
 */
describe('worker metrics', () => {
  let stack: TestStack;
  let worker: WorkerProcess;
  let metricsUrl: string;
  let table: string;
  let key: string;
  const QUERY_MARKER = 'metrics_e2e_query_text';

  beforeAll(async () => {
    stack = await TestStack.start();
    table = `e2e_metrics_${stack.suffix}`;
    key = `metrics-${stack.suffix}`;
    await createMemberTable(stack.pool, table);
    await writeMembers(stack.pool, table, Array.from({ length: 300 }, (_, i) => member(i + 1)));
    const address = `127.0.0.1:${await freePort()}`;
    metricsUrl = `http://${address}/metrics`;
    worker = await stack.startWorker({ METRICS_ADDRESS: address });
  });

  afterAll(async () => {
    await stack?.pool.query(`DROP TABLE IF EXISTS ${table}`);
    await stack?.stop();
  });

  const scrape = async () => parseScrape(await (await fetch(metricsUrl)).text());
  const value = (samples: Sample[], name: string, labels: Record<string, string>) =>
    samples
      .filter((sample) => sample.name === name && Object.entries(labels).every(([label, wanted]) => sample.labels[label] === wanted))
      .reduce((sum, sample) => sum + sample.value, 0);

  it("serves Temporal's and audience-sync's metrics on one endpoint, counting what the cycles did", async () => {
    expect(worker.output()).toContain(`Metrics at ${metricsUrl}`);
    const connected = await stack.cli([
      'connect', '--audience', key, '--name', 'Metrics Secret Name', '--ad-account', 'act_5550077', '--no-check',
      '--query', `SELECT user_id, email, phone, traits, '${QUERY_MARKER}' AS marker FROM ${table}`,
    ]);
    expect(connected.code).toBe(0);
    await eventually(async () => (await stack.cliJson<AudienceStatus>(['status', key])).cyclesCompleted >= 1);
    await writeMembers(stack.pool, table, Array.from({ length: 300 }, (_, i) => member(i + 21)));
    const changed = await stack.cliJson<SyncNowResult>(['sync-now', key, '--wait']);
    expect(changed.cycle?.outcome).toBe('synced');
    const { totals } = await stack.cliJson<AudienceStatus>(['status', key]);
    expect(totals.removed).toBeGreaterThan(0);

    const samples = await scrape();
    expect(value(samples, 'audience_sync_rows_uploaded_total', { audience: key, operation: 'add' })).toBe(totals.added);
    expect(value(samples, 'audience_sync_rows_uploaded_total', { audience: key, operation: 'remove' })).toBe(totals.removed);
    expect(value(samples, 'audience_sync_cycles_total', { audience: key, outcome: 'synced' })).toBeGreaterThanOrEqual(2);
    expect(value(samples, 'audience_sync_cycle_duration_seconds_count', { audience: key })).toBeGreaterThanOrEqual(2);
    expect(value(samples, 'audience_sync_members', { audience: key })).toBe(300);
    expect(value(samples, 'audience_sync_meta_requests_total', { operation: 'add_users', outcome: 'ok' })).toBeGreaterThanOrEqual(2);
    expect(value(samples, 'audience_sync_meta_approximate_size', { audience: key, bound: 'lower' })).toBeGreaterThan(0);
    expect(samples.some((sample) => sample.name.startsWith('temporal_'))).toBe(true);
    // The state gauge is counted in visibility every 30 s; the first count ran when the worker started.
    await eventually(async () => value(await scrape(), 'audience_sync_audiences', { state: 'synced' }) >= 1, 45_000);
  });

  it('counts dropped values and requests Meta refused for a moment by their labels', async () => {
    await stack.pool.query(`UPDATE ${table} SET phone = 'not a phone' WHERE user_id IN ('m21', 'm22')`);
    await stack.addFaults({ fault: 'error', code: 2, nextCalls: 1, match: { path: '/users' } });
    await stack.pool.query(`UPDATE ${table} SET email = 'changed-' || email WHERE user_id IN ('m21', 'm22', 'm23')`);
    const cycle = await stack.cliJson<SyncNowResult>(['sync-now', key, '--wait']);
    expect(cycle.cycle?.outcome).toBe('synced');
    const dropped = cycle.cycle?.drops['PHONE:invalid_phone'];
    expect(dropped).toBeGreaterThanOrEqual(2);
    const samples = await scrape();
    expect(value(samples, 'audience_sync_dropped_values_total', { audience: key, key: 'PHONE', reason: 'invalid_phone' })).toBe(dropped);
    expect(value(samples, 'audience_sync_meta_requests_total', { outcome: 'transient' })).toBeGreaterThanOrEqual(1);
  });

  it('labels nothing with names, SQL or member data', async () => {
    const text = await (await fetch(metricsUrl)).text();
    expect(text).not.toContain('Metrics Secret Name');
    expect(text).not.toContain(QUERY_MARKER);
    expect(text).not.toMatch(/@example\.(com|org)|[0-9a-f]{64}/);
    const labels = new Set(parseScrape(text).filter((sample) => sample.name.startsWith('audience_sync_')).flatMap((sample) => Object.keys(sample.labels)));
    // Ours, the histogram's buckets, and the tags Temporal puts on what workflow code records.
    expect([...labels].sort()).toEqual(
      ['ad_account', 'audience', 'bound', 'key', 'le', 'namespace', 'operation', 'outcome', 'reason', 'state', 'taskQueue', 'workflowType'].filter((label) => labels.has(label)),
    );
    expect([...labels]).toEqual(expect.arrayContaining(['audience', 'operation', 'outcome', 'key', 'reason', 'state', 'bound']));
  });

  it('ships a Grafana dashboard whose every query names a metric the worker exports', async () => {
    const exported = new Set(parseScrape(await (await fetch(metricsUrl)).text()).map((sample) => sample.name));
    const catalog = new Set(Object.values(METRICS).flatMap(exportedNames));
    const dashboard = JSON.parse(readFileSync(DASHBOARD, 'utf8')) as { panels: Array<{ title: string; targets?: Array<{ expr: string }> }> };
    const queries = dashboard.panels.flatMap((panel) => (panel.targets ?? []).map((target) => ({ panel: panel.title, expr: target.expr })));
    expect(queries.length).toBeGreaterThan(8);
    for (const { panel, expr } of queries) {
      const names = [...expr.matchAll(/\b((?:audience_sync|temporal)_[a-z0-9_]+)/g)].map((m) => m[1] as string);
      expect({ panel, expr, names: names.length > 0 }).toEqual({ panel, expr, names: true });
      for (const name of names) {
        // Ours must be in the catalog; Temporal's must have been seen in a scrape of this worker.
        const known = name.startsWith('audience_sync_') ? catalog.has(name) : exported.has(name);
        expect({ panel, name, known }).toEqual({ panel, name, known: true });
      }
    }
    for (const metric of Object.values(METRICS)) expect(queries.some(({ expr }) => expr.includes(metric.name))).toBe(true);
  });
});
