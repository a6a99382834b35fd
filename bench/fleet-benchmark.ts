import { randomBytes } from 'node:crypto';
import { availableParallelism } from 'node:os';
import { Command } from 'commander';
import { forEachWithConcurrency } from '../src/activities/bounded-concurrency';
import { createProfilesTable, insertProfiles } from '../src/local/synthetic-profiles';
import { DEFAULT_MAX_CYCLES_PER_RUN, type AudienceConfig } from '../src/workflows/audience-config';
import { BenchStack, parsePositive, seconds } from './bench-stack';

/**
 * `npm run bench:fleet`: many small audiences on one worker. Reports the time until every audience has finished
 * its first cycle, the worker's RSS then, and the worker's CPU use while the fleet idles between cycles.
 */
const options = new Command()
  .option('--audiences <n>', 'audiences to connect', parsePositive, 1000)
  .option('--members <n>', 'members per audience', parsePositive, 200)
  .option('--ad-accounts <n>', 'ad accounts the audiences are spread over', parsePositive, 10)
  .option('--latency-ms <ms>', 'latency the emulator adds to every Graph call', (v) => Number(v), 150)
  .option('--idle-seconds <s>', 'how long to measure the idle fleet', parsePositive, 60)
  .option('--json', 'print only the JSON result line')
  .option('--worker-log <file>', "append the worker's log to this file")
  .parse()
  .opts<{ audiences: number; members: number; adAccounts: number; latencyMs: number; idleSeconds: number; json?: boolean; workerLog?: string }>();

const say = (line: string) => {
  if (!options.json) console.log(line);
};

/** Connections in flight while connecting the fleet: enough to be quick, few enough not to swamp the dev server. */
const CONNECT_CONCURRENCY = 20;

async function main(): Promise<void> {
  const stack = await BenchStack.start({ latencyMs: options.latencyMs, workerLog: options.workerLog });
  const table = 'bench_fleet_profiles';
  const run = randomBytes(3).toString('hex');
  try {
    const total = options.audiences * options.members;
    say(`seeding ${total.toLocaleString()} profiles in ${table} …`);
    await stack.pool.query(`DROP TABLE IF EXISTS ${table}`);
    await createProfilesTable(stack.pool, table);
    await stack.grantSourceRead(table);
    await insertProfiles(stack.pool, table, 1, total);
    await stack.pool.query(`VACUUM ANALYZE ${table}`);

    const worker = await stack.startWorker();
    const configs = Array.from({ length: options.audiences }, (_, i) => fleetAudience(run, table, i));
    try {
      worker.takePeakRssMb();
      say(`connecting ${options.audiences} audiences of ${options.members} members over ${options.adAccounts} ad accounts …`);
      const started = Date.now();
      await forEachWithConcurrency(configs, CONNECT_CONCURRENCY, async (config) => {
        await stack.client.connectAudience(config);
      });
      const connectSeconds = seconds(started);
      say(`  connected in ${connectSeconds} s; waiting for every first cycle …`);

      let done = 0;
      let states = new Map<string, number>();
      while (done < configs.length) {
        await new Promise((resolve) => setTimeout(resolve, 2000));
        const listings = (await stack.client.list(false)).filter((listing) => listing.audienceKey.startsWith(`fleet-${run}-`));
        done = listings.filter((listing) => listing.lastSyncAt !== null).length;
        states = new Map();
        for (const listing of listings) states.set(listing.state ?? 'none', (states.get(listing.state ?? 'none') ?? 0) + 1);
        say(`  ${seconds(started)} s: ${done}/${configs.length} through their first cycle`);
        const failed = (states.get('failed') ?? 0) + (states.get('needs_attention') ?? 0);
        if (failed > 0) throw new Error(`${failed} audiences failed or need attention: ${JSON.stringify(Object.fromEntries(states))}`);
      }
      const firstCyclesSeconds = seconds(started);
      const rssMbAfterFirstCycles = worker.rssMb();
      const peakRssMb = worker.takePeakRssMb();

      say(`idling for ${options.idleSeconds} s …`);
      const cpuBefore = worker.cpuSeconds();
      const idleStarted = Date.now();
      await new Promise((resolve) => setTimeout(resolve, options.idleSeconds * 1000));
      const idleCpuPercent =
        Math.round(((worker.cpuSeconds() - cpuBefore) / ((Date.now() - idleStarted) / 1000)) * 1000) / 10;

      say('');
      say(`cores: ${availableParallelism()}, emulator latency: ${options.latencyMs} ms`);
      say(`audiences × members:                 ${options.audiences} × ${options.members}`);
      say(`all first cycles done (s):           ${firstCyclesSeconds}`);
      say(`worker RSS then (MB):                ${rssMbAfterFirstCycles} (peak ${peakRssMb})`);
      say(`worker CPU while idle (% of a core): ${idleCpuPercent}`);
      console.log(JSON.stringify({
        audiences: options.audiences,
        membersPerAudience: options.members,
        adAccounts: options.adAccounts,
        cores: availableParallelism(),
        latencyMs: options.latencyMs,
        connectSeconds,
        firstCyclesSeconds,
        rssMbAfterFirstCycles,
        peakRssMb,
        idleCpuPercent,
      }));
      await disconnectAll(stack, configs);
    } finally {
      await worker.stop();
      await stack.forgetAudiences(configs.map((config) => config.audienceKey));
      await stack.pool.query(`DROP TABLE ${table}`);
    }
  } finally {
    await stack.stop();
  }
}

function fleetAudience(run: string, table: string, index: number): AudienceConfig {
  const first = index * options.members + 1;
  return {
    audienceKey: `fleet-${run}-${String(index).padStart(4, '0')}`,
    name: `Fleet benchmark ${index}`,
    adAccountId: `act_${800_000_000 + (index % options.adAccounts)}`,
    sourceSql: `SELECT user_id, email, phone, first_name, last_name, country_code FROM ${table}
                 WHERE user_id IN (SELECT 'u' || g FROM generate_series(${first}, ${first + options.members - 1}) AS g)`,
    // Hourly, as in production: the idle measurement then sees timers only, no cycles.
    intervalMs: 60 * 60 * 1000,
    minSize: 100,
    customerFileSource: 'USER_PROVIDED_ONLY',
    maxCyclesPerRun: DEFAULT_MAX_CYCLES_PER_RUN,
    defaultCountry: 'us',
  };
}

async function disconnectAll(stack: BenchStack, configs: AudienceConfig[]): Promise<void> {
  await forEachWithConcurrency(configs, CONNECT_CONCURRENCY, (config) => stack.client.disconnect(config.audienceKey));
}

main().catch((error: unknown) => {
  console.error(`bench:fleet: ${error instanceof Error ? error.message : String(error)}`);
  process.exit(1);
});
