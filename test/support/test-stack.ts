import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { once } from 'node:events';
import path from 'node:path';
import { Pool } from 'pg';
import { startEmulator, type CallLogEntry, type EmulatorOptions, type RunningEmulator } from '../../src/emulator';
import { startDevServer, type DevServer } from '../../src/local/temporal-dev-server';
import { freePort, waitUntil } from '../../src/local/polling';
import { testReaderUrl } from './source-reader';

export const TEST_DATABASE_URL = process.env.TEST_DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/test';
const CLI = path.resolve(__dirname, '../../dist/src/client/cli.js');

export interface CliResult {
  code: number;
  stdout: string;
  stderr: string;
}

export interface WorkerProcess {
  process: ChildProcess;
  /** Everything the worker printed, for assertions that no member data reached the logs. */
  output(): string;
  stop(signal?: NodeJS.Signals): Promise<void>;
}

/**
 * A real stack for end-to-end tests: the Temporal CLI dev server, the Graph API emulator (own schema in the test
 * database), and the compiled CLI and worker run as child processes exactly as a user runs them.
 */
export class TestStack {
  readonly pool = new Pool({ connectionString: TEST_DATABASE_URL, max: 4 });
  private workers: WorkerProcess[] = [];

  private constructor(
    readonly suffix: string,
    public devServer: DevServer,
    public readonly emulator: RunningEmulator,
    public readonly env: NodeJS.ProcessEnv,
    private readonly devServerOptions: Parameters<typeof startDevServer>[0],
  ) {}

  static async start(
    options: { emulator?: Partial<EmulatorOptions>; dbFilename?: string; env?: NodeJS.ProcessEnv } = {},
  ): Promise<TestStack> {
    const suffix = randomBytes(4).toString('hex');
    const admin = new Pool({ connectionString: TEST_DATABASE_URL, max: 1 });
    // Every table the tests make in public is readable by the source role, which can read nothing of ours.
    const sourceUrl = await testReaderUrl(admin, TEST_DATABASE_URL, { futureTablesInSchema: 'public' }).finally(() =>
      admin.end(),
    );
    const devServerOptions = { port: await freePort(), dbFilename: options.dbFilename };
    const devServer = await startDevServer(devServerOptions);
    const emulator = await startEmulator({
      databaseUrl: TEST_DATABASE_URL,
      schema: `emulator_test_${suffix}`,
      host: '127.0.0.1',
      port: 0,
      ...options.emulator,
    });
    const env: NodeJS.ProcessEnv = {
      ...process.env,
      TEMPORAL_ADDRESS: devServer.address,
      TEMPORAL_TASK_QUEUE: `e2e-${suffix}`,
      DATABASE_URL: TEST_DATABASE_URL,
      SOURCE_DATABASE_URL: sourceUrl,
      FB_GRAPH_URL: emulator.url,
      FB_ACCESS_TOKEN: `e2e-token-${suffix}`,
      ...options.env,
    };
    return new TestStack(suffix, devServer, emulator, env, devServerOptions);
  }

  /** Runs `audience-sync <args>` and returns its exit code and output. */
  cli(args: string[], env: NodeJS.ProcessEnv = {}): Promise<CliResult> {
    return new Promise((resolve) => {
      execFile(
        process.execPath,
        [CLI, ...args],
        { env: { ...this.env, ...env }, maxBuffer: 64 * 1024 * 1024 },
        (error, stdout, stderr) => {
          const code = error ? (typeof error.code === 'number' ? error.code : 1) : 0;
          resolve({ code, stdout, stderr });
        },
      );
    });
  }

  /**
   * Runs a command with --json and parses its output. A command may answer and still exit non-zero (`sync-now
   * --wait` for a cycle that did not sync); only a command with no answer fails, with its stderr.
   */
  async cliJson<T>(args: string[]): Promise<T> {
    const result = await this.cli([...args, '--json']);
    if (!result.stdout.trim()) throw new Error(`audience-sync ${args.join(' ')} failed: ${result.stderr}`);
    return JSON.parse(result.stdout) as T;
  }

  async startWorker(env: NodeJS.ProcessEnv = {}): Promise<WorkerProcess> {
    const child = spawn(process.execPath, [CLI, 'worker'], {
      env: { ...this.env, ...env },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let output = '';
    child.stdout?.on('data', (chunk) => (output += chunk));
    child.stderr?.on('data', (chunk) => (output += chunk));
    const deadline = Date.now() + 60_000;
    while (!output.includes('worker running')) {
      if (child.exitCode !== null) throw new Error(`worker exited early:\n${output}`);
      if (Date.now() > deadline) throw new Error(`worker did not start:\n${output}`);
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
    const worker: WorkerProcess = {
      process: child,
      output: () => output,
      async stop(signal: NodeJS.Signals = 'SIGTERM') {
        if (child.exitCode !== null || child.signalCode !== null) return;
        const exited = once(child, 'exit');
        child.kill(signal);
        await exited;
      },
    };
    this.workers.push(worker);
    return worker;
  }

  /** Stops and starts the dev server on the same port and SQLite file, as an operator restarting it would. */
  async restartDevServer(): Promise<void> {
    await this.devServer.stop();
    this.devServer = await startDevServer(this.devServerOptions);
  }

  async emulatorJson<T>(pathAndQuery: string, init?: RequestInit): Promise<T> {
    const response = await fetch(`${this.emulator.url}${pathAndQuery}`, init);
    if (!response.ok) throw new Error(`${pathAndQuery}: HTTP ${response.status} ${await response.text()}`);
    return (await response.json()) as T;
  }

  /** The emulator's call log from `since` (its sequence numbers) on. */
  calls(since = 0): Promise<CallLogEntry[]> {
    return this.emulatorJson<CallLogEntry[]>(`/_emulator/calls?since=${since}`);
  }

  /** The sequence number of the last call so far, to read only later calls with `calls`. */
  async lastCallSeq(): Promise<number> {
    return (await this.calls()).at(-1)?.seq ?? 0;
  }

  async addFaults(rules: unknown): Promise<void> {
    await this.emulatorJson('/_emulator/faults', {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify(rules),
    });
  }

  async clearFaults(): Promise<void> {
    await this.emulatorJson('/_emulator/faults', { method: 'DELETE' });
  }

  async stop(): Promise<void> {
    for (const worker of this.workers) await worker.stop('SIGKILL').catch(() => undefined);
    await this.emulator.close();
    await this.devServer.stop();
    await this.pool.query(`DROP SCHEMA IF EXISTS emulator_test_${this.suffix} CASCADE`).catch(() => undefined);
    await this.pool.end();
  }
}

/** Polls until `check` holds, for state that settles asynchronously (workflow tasks, visibility). */
export function eventually<T>(check: () => Promise<T | undefined | false>, timeoutMs = 60_000): Promise<T> {
  return waitUntil(check, timeoutMs);
}
