import { randomBytes } from 'node:crypto';
import { availableParallelism } from 'node:os';
import { Worker } from 'node:worker_threads';
import { Command } from 'commander';
import QueryStream from 'pg-query-stream';
import { Client, Connection } from '@temporalio/client';
import { createProfilesTable, insertProfiles } from '../src/local/synthetic-profiles';
import { audienceNumber } from '../src/db/audience-number';
import { SCHEMA } from '../src/db/pool';
import { AUDIENCE_SCHEMA, UNHASHED_KEYS } from '../src/matching/keys';
import { decodeRow } from '../src/matching/row-codec';
import { DEFAULT_MAX_CYCLES_PER_RUN, workflowIdFor, type AudienceConfig } from '../src/workflows/audience-config';
import { waitUntil } from '../src/local/polling';
import { BenchStack, parsePositive, seconds } from './bench-stack';
import { CpuMeter, kernelCpuSeconds, topStatements, totalCpuSeconds, type CpuSplit } from './cpu-meter';

/**
 * `npm run bench`: the real worker and workflow against the emulator with Meta-like latency, at N and N/10
 * members: initial sync, a delta cycle after 1% churn, a cycle with no change; the worker's peak RSS in each;
 * history events per cycle; what the first sync wrote (our tables' bytes and the WAL, per member); and the floor:
 * SHA-256 of as many values on every core, in wall time and in CPU. Both sizes run in one process, so their ratios
 * hold however fast the machine is this hour.
 */
interface SizeResult {
  members: number;
  uploadRows: number;
  hashes: number;
  initialSyncSeconds: number;
  deltaSyncSeconds: number;
  /** Another 1% churn after the first delta: the hourly cycle, whose reads find what the last cycle read in the page
   *  cache, where the first delta after a load finds what the load wrote. */
  secondDeltaSyncSeconds: number;
  noChangeSyncSeconds: number;
  noChangeMetaCalls: number;
  peakRssMbInitial: number;
  peakRssMbDelta: number;
  peakRssMbNoChange: number;
  eventsPerCycle: number;
  /** Where the initial sync's CPU went: the worker, the emulator and PostgreSQL serving each. */
  initialSyncCpuSeconds: CpuSplit;
  /** The kernel's part of postgresForWorker: past a million members it grows faster than the rest (README). */
  postgresForWorkerKernelSeconds: number;
  /** audience-sync's own CPU in the initial sync: the worker and the PostgreSQL backends serving it. */
  ownCpuSeconds: number;
  /** Wall time and CPU of the floor, SHA-256 of `hashes` values on every core: the run of median CPU of its runs. */
  hashFloorSeconds: number;
  hashCpuSeconds: number;
  /** The CPU of each run of the floor, in the order they ran. */
  hashCpuSecondsByRun: number[];
  /** On-disk bytes of audience-sync's tables and indexes the audience holds after its first sync, per member. */
  stateBytesPerMember: number;
  /** WAL PostgreSQL wrote during the first sync, per member. */
  walBytesPerMember: number;
  seedSeconds: number;
}

const options = new Command()
  .option('--members <n>', 'members in the large audience', parsePositive, 1_000_000)
  .option('--latency-ms <ms>', 'latency the emulator adds to every Graph call', (v) => Number(v), 150)
  .option('--json', 'print only the JSON result line')
  .option('--worker-log <file>', "append the worker's log to this file")
  .option('--worker-cpu-profile <dir>', "write V8 CPU profiles of the worker's threads into this directory (node --cpu-prof)")
  .option(
    '--emulator-row-keys-only',
    "the emulator keeps only each row's key, so that Meta's copy of a large audience does not crowd ours out of memory",
    false,
  )
  .parse()
  .opts<{
    members: number;
    latencyMs: number;
    json?: boolean;
    workerLog?: string;
    workerCpuProfile?: string;
    emulatorRowKeysOnly: boolean;
  }>();

const say = (line: string) => {
  if (!options.json) console.log(line);
};

const AUDIENCE_KEY_PREFIX = 'bench-';

async function main(): Promise<void> {
  const stack = await BenchStack.start({
    latencyMs: options.latencyMs,
    workerLog: options.workerLog,
    workerCpuProfileDir: options.workerCpuProfile,
    emulatorRowKeysOnly: options.emulatorRowKeysOnly,
  });
  try {
    // A run stopped before its end left its audience, whose state would be measured beside this run's.
    await stack.forgetAudiences(await stack.audienceKeysStartingWith(AUDIENCE_KEY_PREFIX));
    const tenth = await runSize(stack, Math.max(1, Math.round(options.members / 10)));
    const full = await runSize(stack, options.members);
    report(tenth, full);
  } finally {
    await stack.stop();
  }
}

async function runSize(stack: BenchStack, members: number): Promise<SizeResult> {
  const table = `bench_profiles_${members}`;
  say(`\n== ${members.toLocaleString()} members: seeding ${table} …`);
  const seedStarted = Date.now();
  await stack.pool.query(`DROP TABLE IF EXISTS ${table}`);
  await createProfilesTable(stack.pool, table);
  await stack.grantSourceRead(table);
  for (let first = 1; first <= members; first += 250_000) {
    await insertProfiles(stack.pool, table, first, Math.min(250_000, members - first + 1));
  }
  await stack.pool.query(`VACUUM ANALYZE ${table}`);
  const seedSeconds = seconds(seedStarted);
  say(`  seeded in ${seedSeconds} s`);

  const worker = await stack.startWorker();
  const key = `${AUDIENCE_KEY_PREFIX}${members}-${randomBytes(3).toString('hex')}`;
  const config: AudienceConfig = {
    audienceKey: key,
    name: `Benchmark ${members}`,
    adAccountId: `act_${900_000_000 + members}`,
    sourceSql: `SELECT user_id, email, phone, first_name, last_name, gender, birthday, city, state, zip,
                       country_code, traits FROM ${table}`,
    intervalMs: 24 * 60 * 60 * 1000,
    minSize: 100,
    customerFileSource: 'USER_PROVIDED_ONLY',
    maxCyclesPerRun: DEFAULT_MAX_CYCLES_PER_RUN,
    defaultCountry: 'us',
  };
  try {
    worker.takePeakRssMb();
    say('initial sync …');
    const stateBytesBefore = await stack.stateBytes();
    const walBefore = await stack.walPosition();
    let started = Date.now();
    const cpu = await CpuMeter.start(stack.pool, {
      worker: worker.process.pid as number,
      temporal: stack.devServer.process.pid as number,
    });
    const synced = await (async () => {
      await stack.client.connectAudience(config);
      return waitUntil(async () => {
        const status = await stack.client.status(key);
        return status.cyclesCompleted >= 1 && status.state !== 'syncing' && status;
      }, 60 * 60 * 1000);
    })().catch(async (error: unknown) => {
      // The sync's failure is what the run reports; the meter only has to stop querying.
      await cpu.stop().catch(() => undefined);
      throw error;
    });
    const initialSyncSeconds = seconds(started);
    const initialSyncCpuSeconds = await cpu.stop();
    const byClient = [...cpu.byClient].filter(([client]) => client.startsWith('audience-sync'));
    say(`  PostgreSQL CPU by client: ${byClient.map(([client, cpuSeconds]) => `${client} ${cpuSeconds.toFixed(1)} s`).join(', ')}`);
    say('  … and by statement:');
    for (const line of topStatements(cpu.workerByStatement, 12)) say(`    ${line}`);
    const walBytes = await stack.walBytesSince(walBefore);
    const stateGrowth = growthByTable(stateBytesBefore, await stack.stateBytes());
    const stateBytes = stateGrowth.reduce((sum, [, table, indexes]) => sum + table + indexes, 0);
    const peakRssMbInitial = worker.takePeakRssMb();
    if (synced.state !== 'synced') throw new Error(`initial sync ended ${synced.state}: ${synced.summary}`);
    const cycle = synced.lastCycle;
    const held = await stack.emulatorRowCount(synced.fbAudienceId as string);
    if (!cycle || held !== cycle.added) throw new Error(`the emulator holds ${held} rows, the cycle added ${cycle?.added}`);
    const ownCpuSeconds = round2(initialSyncCpuSeconds.worker + initialSyncCpuSeconds.postgresForWorker);
    say(`  ${initialSyncSeconds} s, ${cycle.added.toLocaleString()} rows, peak RSS ${peakRssMbInitial} MB, own CPU ${ownCpuSeconds} s`);
    say(`  state ${(stateBytes / members).toFixed(0)} B and WAL ${(walBytes / members).toFixed(0)} B per member; state by table (table + indexes):`);
    for (const [name, table, indexes] of stateGrowth) say(`    ${name}: ${(table / members).toFixed(0)} + ${(indexes / members).toFixed(0)} B`);

    say('delta sync after 1% churn …');
    await churn(stack, table, members, 0);
    const eventsBefore = await historyLength(stack, key);
    started = Date.now();
    const delta = await stack.client.syncNow(key, { wait: true });
    const deltaSyncSeconds = seconds(started);
    const eventsPerCycle = (await historyLength(stack, key)) - eventsBefore;
    say(`  ${deltaSyncSeconds} s, +${delta.cycle?.added} −${delta.cycle?.removed} rows`);

    say('second delta sync after another 1% churn …');
    await churn(stack, table, members, 1);
    started = Date.now();
    const secondDelta = await stack.client.syncNow(key, { wait: true });
    const secondDeltaSyncSeconds = seconds(started);
    const peakRssMbDelta = worker.takePeakRssMb();
    say(`  ${secondDeltaSyncSeconds} s, +${secondDelta.cycle?.added} −${secondDelta.cycle?.removed} rows, peak RSS of both deltas ${peakRssMbDelta} MB`);

    say('cycle with no change …');
    const seqBefore = await stack.lastCallSeq();
    started = Date.now();
    const unchanged = await stack.client.syncNow(key, { wait: true });
    const noChangeSyncSeconds = seconds(started);
    const peakRssMbNoChange = worker.takePeakRssMb();
    const noChangeMetaCalls = (await stack.emulatorCalls(seqBefore)).length;
    say(`  ${noChangeSyncSeconds} s, outcome ${unchanged.cycle?.outcome}, ${noChangeMetaCalls} calls to Meta`);

    await stack.client.disconnect(key);
    const hashes = await countHashes(stack, key);
    say(`hash floor: SHA-256 of ${hashes.toLocaleString()} values on ${availableParallelism()} cores …`);
    const floor = await medianHashFloor(hashes);
    say(
      `  ${floor.seconds} s, ${floor.cpuSeconds} CPU s (the median of ${floor.cpuSecondsByRun.join(', ')}); ` +
        `own CPU / hash CPU ${(ownCpuSeconds / floor.cpuSeconds).toFixed(1)}×`,
    );
    return {
      members,
      uploadRows: cycle.added,
      hashes,
      initialSyncSeconds,
      deltaSyncSeconds,
      secondDeltaSyncSeconds,
      noChangeSyncSeconds,
      noChangeMetaCalls,
      peakRssMbInitial,
      peakRssMbDelta,
      peakRssMbNoChange,
      eventsPerCycle,
      initialSyncCpuSeconds,
      postgresForWorkerKernelSeconds: kernelCpuSeconds(cpu.workerByStatement),
      ownCpuSeconds,
      hashFloorSeconds: floor.seconds,
      hashCpuSeconds: floor.cpuSeconds,
      hashCpuSecondsByRun: floor.cpuSecondsByRun,
      stateBytesPerMember: Math.round(stateBytes / members),
      walBytesPerMember: Math.round(walBytes / members),
      seedSeconds,
    };
  } finally {
    await worker.stop();
    // Once the worker has stopped, nothing of the audience is in use any more.
    await stack.forgetAudiences([key]);
    await stack.pool.query(`DROP TABLE ${table}`);
  }
}

/** 1% of members change: a third leave, a third join, a third change their email; each round other members. */
async function churn(stack: BenchStack, table: string, members: number, round: number): Promise<void> {
  const each = Math.max(1, Math.round(members / 300));
  const first = round * 2 * each;
  await stack.pool.query(`DELETE FROM ${table} WHERE user_id IN (SELECT 'u' || g FROM generate_series($1::int + 1, $1::int + $2::int) g)`, [
    first,
    each,
  ]);
  await insertProfiles(stack.pool, table, members + 1 + round * each, each);
  await stack.pool.query(
    `UPDATE ${table} SET email = 'changed.' || email, updated_at = now()
      WHERE user_id IN (SELECT 'u' || g FROM generate_series($1::int + 1, $1::int + $2::int) g)`,
    [first + each, each],
  );
}

async function historyLength(stack: BenchStack, key: string): Promise<number> {
  const connection = await Connection.connect({ address: stack.environment.TEMPORAL_ADDRESS });
  try {
    const description = await new Client({ connection }).workflow.getHandle(workflowIdFor(key)).describe();
    return description.historyLength;
  } finally {
    await connection.close();
  }
}

/** SHA-256 computations a sync of these rows needs: every non-empty hashed value, and each row's identity. */
async function countHashes(stack: BenchStack, audienceKey: string): Promise<number> {
  const hashedColumns = AUDIENCE_SCHEMA.flatMap((key, index) => (UNHASHED_KEYS.has(key) ? [] : [index]));
  const client = await stack.pool.connect();
  try {
    const rows = client.query(new QueryStream(
      `SELECT row_data FROM ${SCHEMA}.audience_rows WHERE audience_no = $1`, [await audienceNumber(client, audienceKey)], { batchSize: 5000 },
    ));
    // One hash per row for its identity, plus one per non-empty hashed key.
    let hashes = 0;
    for await (const { row_data } of rows as AsyncIterable<{ row_data: Buffer }>) {
      const row = decodeRow(row_data);
      hashes += 1 + hashedColumns.filter((index) => row[index] !== '').length;
    }
    return hashes;
  } finally {
    client.release();
  }
}

/**
 * Runs of the floor, of which the median is taken: on this machine one run of a few seconds took up to a third more
 * CPU than the run before or after it, where the sync it is held against takes tens of seconds and evens that out.
 */
const FLOOR_RUNS = 3;

/** One run of the floor: its wall time and its CPU. */
interface FloorRun {
  seconds: number;
  cpuSeconds: number;
}

/** hashFloor run FLOOR_RUNS times, one after the other: the run of median CPU, and the CPU of each. */
async function medianHashFloor(count: number): Promise<FloorRun & { cpuSecondsByRun: number[] }> {
  const runs: FloorRun[] = [];
  for (let run = 0; run < FLOOR_RUNS; run++) runs.push(await hashFloor(count));
  const median = [...runs].sort((a, b) => a.cpuSeconds - b.cpuSeconds)[Math.floor(FLOOR_RUNS / 2)] as FloorRun;
  return { ...median, cpuSecondsByRun: runs.map((run) => run.cpuSeconds) };
}

/**
 * The time every core needs to SHA-256 `count` values shaped like normalized identifiers, and the CPU it takes:
 * the sync's floor.
 */
async function hashFloor(count: number): Promise<FloorRun> {
  const threads = availableParallelism();
  const started = Date.now();
  const cpuBefore = process.cpuUsage();
  await Promise.all(
    Array.from({ length: threads }, (_, thread) => {
      const share = Math.ceil(count / threads);
      return new Promise<void>((resolve, reject) => {
        const worker = new Worker(
          `const { hash } = require('node:crypto');
           const { workerData } = require('node:worker_threads');
           for (let i = 0; i < workerData.share; i++) hash('sha256', 'member' + (workerData.offset + i) + '@example.com', 'hex');`,
          { eval: true, workerData: { share, offset: thread * share } },
        );
        worker.once('exit', (code) => (code === 0 ? resolve() : reject(new Error(`hash thread exited ${code}`))));
        worker.once('error', reject);
      });
    }),
  );
  const cpu = process.cpuUsage(cpuBefore);
  return { seconds: seconds(started), cpuSeconds: round2((cpu.user + cpu.system) / 1e6) };
}

const round2 = (value: number) => Math.round(value * 100) / 100;
const ratio = (full: number, tenth: number) => round2(full / tenth);
const userPart = (size: SizeResult) => size.initialSyncCpuSeconds.postgresForWorker - size.postgresForWorkerKernelSeconds;

function report(tenth: SizeResult, full: SizeResult): void {
  const rows: [string, string, string][] = [
    ['members', String(tenth.members), String(full.members)],
    ['rows uploaded', String(tenth.uploadRows), String(full.uploadRows)],
    ['initial sync (s)', String(tenth.initialSyncSeconds), String(full.initialSyncSeconds)],
    ['delta sync after 1% churn (s)', String(tenth.deltaSyncSeconds), String(full.deltaSyncSeconds)],
    ['second delta after another 1% (s)', String(tenth.secondDeltaSyncSeconds), String(full.secondDeltaSyncSeconds)],
    ['no-change sync (s)', String(tenth.noChangeSyncSeconds), String(full.noChangeSyncSeconds)],
    ['calls to Meta in the no-change sync', String(tenth.noChangeMetaCalls), String(full.noChangeMetaCalls)],
    ['worker peak RSS, initial (MB)', String(tenth.peakRssMbInitial), String(full.peakRssMbInitial)],
    ['worker peak RSS, delta (MB)', String(tenth.peakRssMbDelta), String(full.peakRssMbDelta)],
    ['worker peak RSS, no change (MB)', String(tenth.peakRssMbNoChange), String(full.peakRssMbNoChange)],
    ['history events per cycle', String(tenth.eventsPerCycle), String(full.eventsPerCycle)],
    ...cpuRows(tenth.initialSyncCpuSeconds, full.initialSyncCpuSeconds),
    [
      'initial sync CPU (s): PostgreSQL for the worker, in the kernel',
      String(tenth.postgresForWorkerKernelSeconds),
      String(full.postgresForWorkerKernelSeconds),
    ],
    ['own CPU: worker + PostgreSQL for it (s)', String(tenth.ownCpuSeconds), String(full.ownCpuSeconds)],
    [`hash floor, CPU (s), the median of ${FLOOR_RUNS} runs`, String(tenth.hashCpuSeconds), String(full.hashCpuSeconds)],
    ['hash floor, wall (s), of that run', String(tenth.hashFloorSeconds), String(full.hashFloorSeconds)],
    ['own CPU / hash CPU', ownPerHash(tenth).toFixed(1), ownPerHash(full).toFixed(1)],
    ['state bytes per member', String(tenth.stateBytesPerMember), String(full.stateBytesPerMember)],
    ['WAL bytes per member, first sync', String(tenth.walBytesPerMember), String(full.walBytesPerMember)],
    ['seeding the source (s)', String(tenth.seedSeconds), String(full.seedSeconds)],
  ];
  const peakRss = (size: SizeResult) => Math.max(size.peakRssMbInitial, size.peakRssMbDelta, size.peakRssMbNoChange);
  const growth = {
    initialSync: ratio(full.initialSyncSeconds, tenth.initialSyncSeconds),
    deltaSync: ratio(full.deltaSyncSeconds, tenth.deltaSyncSeconds),
    secondDeltaSync: ratio(full.secondDeltaSyncSeconds, tenth.secondDeltaSyncSeconds),
    noChangeSync: ratio(full.noChangeSyncSeconds, tenth.noChangeSyncSeconds),
    postgresForWorkerCpu: ratio(full.initialSyncCpuSeconds.postgresForWorker, tenth.initialSyncCpuSeconds.postgresForWorker),
    postgresForWorkerUserCpu: ratio(userPart(full), userPart(tenth)),
    postgresForWorkerKernelCpu: ratio(full.postgresForWorkerKernelSeconds, tenth.postgresForWorkerKernelSeconds),
    workerCpu: ratio(full.initialSyncCpuSeconds.worker, tenth.initialSyncCpuSeconds.worker),
    ownCpu: ratio(full.ownCpuSeconds, tenth.ownCpuSeconds),
    peakRss: ratio(peakRss(full), peakRss(tenth)),
  };
  say('');
  say(`cores: ${availableParallelism()}, emulator latency: ${options.latencyMs} ms${options.emulatorRowKeysOnly ? ', emulator keeps row keys only' : ''}`);
  const width = Math.max(...rows.map((row) => row[0].length));
  for (const [label, a, b] of rows) say(`${label.padEnd(width)}  ${a.padStart(10)}  ${b.padStart(10)}`);
  say(`initial sync / hash floor: ${(full.initialSyncSeconds / full.hashFloorSeconds).toFixed(1)}×`);
  say(`growth for ${ratio(full.members, tenth.members)}× the members: ${Object.entries(growth).map(([what, times]) => `${what} ${times}×`).join(', ')}`);
  console.log(
    JSON.stringify({
      members: full.members,
      cores: availableParallelism(),
      latencyMs: options.latencyMs,
      emulatorRowKeysOnly: options.emulatorRowKeysOnly,
      initialSyncSeconds: full.initialSyncSeconds,
      deltaSyncSeconds: full.deltaSyncSeconds,
      secondDeltaSyncSeconds: full.secondDeltaSyncSeconds,
      noChangeSyncSeconds: full.noChangeSyncSeconds,
      noChangeMetaCalls: full.noChangeMetaCalls,
      hashFloorSeconds: full.hashFloorSeconds,
      hashCpuSeconds: full.hashCpuSeconds,
      hashCpuSecondsByRun: full.hashCpuSecondsByRun,
      ownCpuSeconds: full.ownCpuSeconds,
      ownCpuPerHashCpu: round2(ownPerHash(full)),
      stateBytesPerMember: full.stateBytesPerMember,
      walBytesPerMember: full.walBytesPerMember,
      peakRssMb: peakRss(full),
      peakRssMbAtTenth: peakRss(tenth),
      growth,
      eventsPerCycle: Math.max(tenth.eventsPerCycle, full.eventsPerCycle),
      initialSyncCpuSeconds: full.initialSyncCpuSeconds,
      postgresForWorkerKernelSeconds: full.postgresForWorkerKernelSeconds,
      atTenth: tenth,
    }),
  );
}

/** What each table (and its indexes) grew by, per table, largest first. */
function growthByTable(
  before: Map<string, { table: number; indexes: number }>,
  after: Map<string, { table: number; indexes: number }>,
): [string, number, number][] {
  return [...after]
    .map(([name, size]): [string, number, number] => [
      name,
      size.table - (before.get(name)?.table ?? 0),
      size.indexes - (before.get(name)?.indexes ?? 0),
    ])
    .filter(([, table, indexes]) => table + indexes !== 0)
    .sort((a, b) => b[1] + b[2] - (a[1] + a[2]));
}

function ownPerHash(size: SizeResult): number {
  return size.ownCpuSeconds / size.hashCpuSeconds;
}

const CPU_LABELS: Record<keyof CpuSplit, string> = {
  worker: 'worker',
  temporal: 'Temporal dev server',
  emulator: 'emulator (this process)',
  postgresForWorker: 'PostgreSQL for the worker',
  postgresForEmulator: 'PostgreSQL for the emulator',
  postgresOther: 'PostgreSQL, other',
};

/** The initial sync's CPU seconds by spender, and their sum: on a shared machine, what bounds its time. */
function cpuRows(tenth: CpuSplit, full: CpuSplit): [string, string, string][] {
  return [
    ...(Object.keys(CPU_LABELS) as (keyof CpuSplit)[]).map((spender): [string, string, string] => [
      `initial sync CPU (s): ${CPU_LABELS[spender]}`,
      String(tenth[spender]),
      String(full[spender]),
    ]),
    ['initial sync CPU (s): all of these', String(totalCpuSeconds(tenth)), String(totalCpuSeconds(full))],
  ];
}

main().catch((error: unknown) => {
  console.error(`bench: ${error instanceof Error ? error.message : String(error)}`);
  process.exit(1);
});
