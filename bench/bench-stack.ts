import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { createWriteStream, readFileSync } from 'node:fs';
import path from 'node:path';
import { InvalidArgumentError } from 'commander';
import { Pool } from 'pg';
import { AudienceClient } from '../src/client/audience-client';
import { SCHEMA } from '../src/db/pool';
import { migrate } from '../src/db/migrations';
import { forgetAudience } from '../src/db/audiences';
import { cycleTables, dropCycleTables } from '../src/db/cycle-tables';
import { readEnvironment, type Environment } from '../src/config/environment';
import { startEmulator, type CallLogEntry, type RunningEmulator } from '../src/emulator';
import { startDevServer, type DevServer } from '../src/local/temporal-dev-server';
import { freePort } from '../src/local/polling';
import { processCpuSeconds } from './cpu-meter';
import { ensureReaderRole } from '../src/local/source-reader-role';

const CLI = path.resolve(__dirname, '../src/client/cli.js');
/** The role the benchmark's audience queries run as, granted each table the benchmark seeds. */
const READER_ROLE = 'audience_sync_bench_reader';
const PAGE_SIZE = 4096;

/**
 * What a benchmark runs against: its own Temporal dev server (in memory), its own Graph API emulator (own schema,
 * Meta-like latency) and a real worker process whose memory and CPU it samples from /proc.
 */
export class BenchStack {
  private constructor(
    readonly environment: Environment,
    readonly pool: Pool,
    readonly devServer: DevServer,
    readonly emulator: RunningEmulator,
    readonly client: AudienceClient,
    private readonly emulatorSchema: string,
    private readonly workerLog: string | undefined,
    /** Where each worker's threads write V8 CPU profiles when it stops (`node --cpu-prof`); none when undefined. */
    private readonly workerCpuProfileDir: string | undefined,
    /** Undefined when the caller set SOURCE_DATABASE_URL: then its role is used as it is. */
    private readonly readerPassword: string | undefined,
  ) {}

  static async start(options: {
    latencyMs: number;
    uploadConcurrency?: number;
    workerLog?: string;
    workerCpuProfileDir?: string;
    /** The emulator keeps only row keys (see EmulatorOptions.rowKeysOnly). */
    emulatorRowKeysOnly?: boolean;
  }): Promise<BenchStack> {
    const base = readEnvironment();
    const pool = new Pool({ connectionString: base.DATABASE_URL, max: 4 });
    // The benchmark reads our tables before its first worker starts (to clear what a stopped run left): on a
    // database no worker has used yet, they must exist first.
    await migrate(pool);
    const devServer = await startDevServer({ port: await freePort() });
    const emulatorSchema = `bench_emulator_${randomBytes(4).toString('hex')}`;
    const emulator = await startEmulator({
      databaseUrl: base.DATABASE_URL,
      schema: emulatorSchema,
      host: '127.0.0.1',
      port: 0,
      latencyMs: options.latencyMs,
      rowKeysOnly: options.emulatorRowKeysOnly,
    });
    const readerPassword = base.SOURCE_DATABASE_URL ? undefined : randomBytes(18).toString('base64url');
    const sourceUrl =
      readerPassword === undefined
        ? base.SOURCE_DATABASE_URL
        : await ensureReaderRole(pool, base.DATABASE_URL, READER_ROLE, readerPassword, { tables: [] });
    const environment: Environment = {
      ...base,
      SOURCE_DATABASE_URL: sourceUrl,
      TEMPORAL_ADDRESS: devServer.address,
      FB_GRAPH_URL: emulator.url,
      FB_ACCESS_TOKEN: 'bench-token',
      ...(options.uploadConcurrency ? { UPLOAD_CONCURRENCY: options.uploadConcurrency } : {}),
    };
    const client = await AudienceClient.connect(environment);
    return new BenchStack(
      environment,
      pool,
      devServer,
      emulator,
      client,
      emulatorSchema,
      options.workerLog,
      options.workerCpuProfileDir,
      readerPassword,
    );
  }

  /** Lets the benchmark's source role read a table it seeded. */
  async grantSourceRead(table: string): Promise<void> {
    if (this.readerPassword === undefined) return;
    await ensureReaderRole(this.pool, this.environment.DATABASE_URL, READER_ROLE, this.readerPassword, { tables: [table] });
  }

  async startWorker(): Promise<SampledWorker> {
    const env: NodeJS.ProcessEnv = { ...process.env };
    for (const [name, value] of Object.entries(this.environment)) if (value !== undefined) env[name] = String(value);
    // The worker's log is dropped unless asked for (--worker-log): a failure shows up in the figures and the
    // cycle status, and the log says where the time went.
    const log = this.workerLog === undefined ? undefined : createWriteStream(this.workerLog, { flags: 'a' });
    const profiling = this.workerCpuProfileDir === undefined ? [] : ['--cpu-prof', `--cpu-prof-dir=${this.workerCpuProfileDir}`];
    const child = spawn(process.execPath, [...profiling, CLI, 'worker'], { env, stdio: ['ignore', 'pipe', log ? 'pipe' : 'ignore'] });
    if (log) {
      child.stdout?.pipe(log, { end: false });
      child.stderr?.pipe(log, { end: false });
    }
    await new Promise<void>((resolve, reject) => {
      let output = '';
      child.stdout?.on('data', (chunk) => {
        output += chunk;
        if (output.includes('worker running')) resolve();
      });
      child.once('exit', (code) => reject(new Error(`worker exited with ${code}`)));
    });
    return new SampledWorker(child);
  }

  async emulatorCalls(since = 0): Promise<CallLogEntry[]> {
    const response = await fetch(`${this.emulator.url}/_emulator/calls?since=${since}`);
    return (await response.json()) as CallLogEntry[];
  }

  async lastCallSeq(): Promise<number> {
    return (await this.emulatorCalls()).at(-1)?.seq ?? 0;
  }

  async emulatorRowCount(fbAudienceId: string): Promise<number> {
    const response = await fetch(`${this.emulator.url}/_emulator/audiences`);
    const audiences = (await response.json()) as { id: string; row_count: number }[];
    return audiences.find((audience) => audience.id === fbAudienceId)?.row_count ?? 0;
  }

  /**
   * Deletes what the benchmark's (disconnected) audiences left in audience-sync's tables: a million-row audience
   * left behind, or its dead rows, make every later run's indexes bigger and its figures worse.
   */
  async forgetAudiences(audienceKeys: readonly string[]): Promise<void> {
    // A run stopped mid-cycle leaves that cycle's working tables too (6 GB of staging at ten million members).
    const cycles = await this.pool.query<{ cycle_id: string }>(
      `SELECT cycle_id FROM ${SCHEMA}.sync_cycles WHERE audience_key = ANY ($1)`,
      [audienceKeys],
    );
    for (const { cycle_id } of cycles.rows) await dropCycleTables(this.pool, cycleTables(cycle_id));
    for (const key of audienceKeys) await forgetAudience(this.pool, key);
    // And the space they took is given back, so that the next audience's state is measured alone (stateBytes).
    await this.compactState();
  }

  /** The audiences whose keys start with `prefix`: what a benchmark stopped before its end left behind. */
  async audienceKeysStartingWith(prefix: string): Promise<string[]> {
    const { rows } = await this.pool.query<{ audience_key: string }>(
      `SELECT audience_key FROM ${SCHEMA}.audiences WHERE starts_with(audience_key, $1)`,
      [prefix],
    );
    return rows.map((row) => row.audience_key);
  }

  /**
   * Rewrites audience-sync's tables without the space deleted rows left, so that what an audience's first sync
   * adds to them (stateBytes before and after) is its own. Takes each table's exclusive lock for a moment.
   */
  async compactState(): Promise<void> {
    const { rows } = await this.pool.query<{ name: string }>(
      `SELECT format('%I.%I', n.nspname, c.relname) AS name FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
        WHERE n.nspname = $1 AND c.relkind = 'r'`,
      [SCHEMA],
    );
    await this.pool.query(`VACUUM FULL ${rows.map((row) => row.name).join(', ')}`);
  }

  /** On-disk bytes of each of audience-sync's tables: the table itself (with TOAST) and its indexes. */
  async stateBytes(): Promise<Map<string, { table: number; indexes: number }>> {
    const { rows } = await this.pool.query<{ name: string; table_bytes: string; index_bytes: string }>(
      `SELECT c.relname AS name, pg_table_size(c.oid) AS table_bytes, pg_indexes_size(c.oid) AS index_bytes
         FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
        WHERE n.nspname = $1 AND c.relkind = 'r'`,
      [SCHEMA],
    );
    return new Map(rows.map((row) => [row.name, { table: Number(row.table_bytes), indexes: Number(row.index_bytes) }]));
  }

  /** The server's WAL position: the WAL written between two readings is their difference (walBytesSince). */
  async walPosition(): Promise<string> {
    const { rows } = await this.pool.query<{ lsn: string }>('SELECT pg_current_wal_lsn()::text AS lsn');
    return rows[0]?.lsn as string;
  }

  /**
   * WAL the whole server wrote since `position`. During a benchmark's sync that is audience-sync's: the emulator
   * keeps its rows in unlogged tables and the Temporal dev server in SQLite.
   */
  async walBytesSince(position: string): Promise<number> {
    const { rows } = await this.pool.query<{ bytes: string }>('SELECT pg_wal_lsn_diff(pg_current_wal_lsn(), $1::pg_lsn) AS bytes', [position]);
    return Number(rows[0]?.bytes ?? 0);
  }

  async stop(): Promise<void> {
    await this.client.close();
    await this.emulator.close();
    await this.devServer.stop();
    await this.pool.query(`DROP SCHEMA IF EXISTS ${this.emulatorSchema} CASCADE`);
    await this.pool.end();
  }
}

/** A worker process whose resident memory is sampled every 50 ms, so each phase's peak can be reported. */
export class SampledWorker {
  private peakKb = 0;
  private readonly timer: NodeJS.Timeout;

  constructor(readonly process: ChildProcess) {
    this.timer = setInterval(() => {
      this.peakKb = Math.max(this.peakKb, this.rssKb());
    }, 50);
  }

  /** Peak RSS in MB since the last call. */
  takePeakRssMb(): number {
    const peak = Math.max(this.peakKb, this.rssKb());
    this.peakKb = 0;
    return Math.round(peak / 1024);
  }

  rssMb(): number {
    return Math.round(this.rssKb() / 1024);
  }

  /** CPU seconds (user + system) the process has used so far. */
  cpuSeconds(): number {
    return processCpuSeconds(this.process.pid as number);
  }

  async stop(): Promise<void> {
    clearInterval(this.timer);
    if (this.process.exitCode !== null) return;
    const exited = new Promise((resolve) => this.process.once('exit', resolve));
    this.process.kill('SIGTERM');
    await exited;
  }

  private rssKb(): number {
    try {
      const pages = Number(readFileSync(`/proc/${this.process.pid}/statm`, 'utf8').split(' ')[1]);
      return (pages * PAGE_SIZE) / 1024;
    } catch {
      return 0;
    }
  }
}

/** A command-line flag that must be a positive whole number. */
export function parsePositive(value: string): number {
  if (!/^\d+$/.test(value) || Number(value) <= 0) throw new InvalidArgumentError('must be a positive whole number');
  return Number(value);
}

export function seconds(fromMs: number): number {
  return Math.round((Date.now() - fromMs) / 10) / 100;
}
