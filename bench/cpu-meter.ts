import { readFileSync } from 'node:fs';
import { setTimeout as sleep } from 'node:timers/promises';
import type { Pool } from 'pg';

/** CPU seconds spent during a phase, by who spent them. */
export interface CpuSplit {
  /** The worker process, its hashing threads included. */
  worker: number;
  /** The Temporal server: the benchmark's own dev server. */
  temporal: number;
  /** The benchmark's own process: the emulator standing in for Meta, and the benchmark waiting for the sync. */
  emulator: number;
  /** PostgreSQL backends serving audience-sync's connections (application_name audience-sync…). */
  postgresForWorker: number;
  /** PostgreSQL backends serving the emulator's connections (application_name graph-emulator…). */
  postgresForEmulator: number;
  /** Every other PostgreSQL process that reports itself: checkpointer, WAL writer, autovacuum, the benchmark. */
  postgresOther: number;
}

type PostgresRole = 'postgresForWorker' | 'postgresForEmulator' | 'postgresOther';

/** The processes measured by their own CPU, by pid. */
export type MeteredProcesses = Record<'worker' | 'temporal', number>;

const CLOCK_TICKS_PER_SECOND = 100;

/**
 * Measures where a phase's CPU went, from /proc: the worker's, the Temporal server's and this process's totals,
 * and every PostgreSQL process listed in pg_stat_activity, sampled (every 200 ms by default) and charged to the
 * client it serves by application_name, a parallel worker to its leader's. A backend started during the phase is
 * charged from its start, so pools that connect mid-phase are counted in full. What a backend spends after the
 * last sample that saw it is missed: its last moments, or all of a backend that lives between two samples (a
 * parallel worker, a short connection). PostgreSQL's share is only seen when the server runs on this machine;
 * otherwise it is zero.
 */
export class CpuMeter {
  /** CPU seconds by application_name ('' for none) of the PostgreSQL processes seen so far. */
  readonly byClient = new Map<string, number>();
  /**
   * CPU seconds of audience-sync's backends by statement: what each spent between two samples is charged to the
   * statement it was running at the second, or had run last if idle, so a statement of a second or more is seen
   * nearly whole and short ones (a batch read) only in sum with their kind. `kernel` is the part spent in the
   * kernel: copying pages to and from the page cache, and reclaiming it when memory runs short.
   */
  readonly workerByStatement = new Map<string, { cpu: number; kernel: number }>();
  /** Ticks (all, and the kernel's) each PostgreSQL process had when last sampled, by pid and start time (pids are reused). */
  private readonly backendTicks = new Map<string, { ticks: number; kernelTicks: number }>();
  private readonly startedAtTick = bootTicks();
  private readonly selfStart = process.cpuUsage();
  private readonly processesStart: MeteredProcesses;
  private readonly stopping = new AbortController();
  private sampling: Promise<void> = Promise.resolve();

  private constructor(
    private readonly pool: Pool,
    private readonly processes: MeteredProcesses,
    private readonly sampleEveryMs: number,
  ) {
    this.processesStart = processesCpuSeconds(processes);
  }

  /** Resolves once the PostgreSQL processes already running are sampled: only what they spend from then on counts. */
  static async start(pool: Pool, processes: MeteredProcesses, sampleEveryMs = 200): Promise<CpuMeter> {
    const meter = new CpuMeter(pool, processes, sampleEveryMs);
    await meter.samplePostgres();
    meter.sampling = meter.sampleUntilStopped();
    // A failed sample is reported by stop(), not as an unhandled rejection that ends the benchmark meanwhile.
    meter.sampling.catch(() => undefined);
    return meter;
  }

  async stop(): Promise<CpuSplit> {
    this.stopping.abort();
    await this.sampling;
    await this.samplePostgres();
    const self = process.cpuUsage(this.selfStart);
    const now = processesCpuSeconds(this.processes);
    const split: CpuSplit = {
      worker: round(now.worker - this.processesStart.worker),
      temporal: round(now.temporal - this.processesStart.temporal),
      emulator: round((self.user + self.system) / 1e6),
      postgresForWorker: 0,
      postgresForEmulator: 0,
      postgresOther: 0,
    };
    for (const [client, seconds] of this.byClient) split[roleOf(client)] += seconds;
    split.postgresForWorker = round(split.postgresForWorker);
    split.postgresForEmulator = round(split.postgresForEmulator);
    split.postgresOther = round(split.postgresOther);
    return split;
  }

  private async sampleUntilStopped(): Promise<void> {
    const { signal } = this.stopping;
    while (!signal.aborted) {
      // Stopping cuts the wait short; stop() then takes the last sample itself.
      await sleep(this.sampleEveryMs, undefined, { signal }).catch(() => undefined);
      if (!signal.aborted) await this.samplePostgres();
    }
  }

  private async samplePostgres(): Promise<void> {
    const { rows } = await this.pool.query<{ pid: number; client: string | null; query: string }>(
      `SELECT a.pid, coalesce(leader.application_name, a.application_name) AS client, coalesce(a.query, '') AS query
         FROM pg_stat_activity a
         LEFT JOIN pg_stat_activity leader ON leader.pid = a.leader_pid AND a.leader_pid <> a.pid`,
    );
    for (const { pid, client, query } of rows) {
      const stat = readStat(pid);
      // A server on another machine lists its own pids, which here may belong to anything.
      if (stat?.command !== 'postgres') continue;
      const key = `${pid}:${stat.startTick}`;
      const from =
        this.backendTicks.get(key) ?? (stat.startTick >= this.startedAtTick ? { ticks: 0, kernelTicks: 0 } : stat);
      this.backendTicks.set(key, { ticks: stat.ticks, kernelTicks: stat.kernelTicks });
      const name = client ?? '';
      const spent = (stat.ticks - from.ticks) / CLOCK_TICKS_PER_SECOND;
      this.byClient.set(name, (this.byClient.get(name) ?? 0) + spent);
      if (roleOf(name) === 'postgresForWorker' && spent > 0) {
        const statement = statementKind(query);
        const sum = this.workerByStatement.get(statement) ?? { cpu: 0, kernel: 0 };
        sum.cpu += spent;
        sum.kernel += (stat.kernelTicks - from.kernelTicks) / CLOCK_TICKS_PER_SECOND;
        this.workerByStatement.set(statement, sum);
      }
    }
  }
}

/** The statements that spent the most of audience-sync's PostgreSQL CPU, a line each: seconds, the kernel's, the text. */
export function topStatements(byStatement: CpuMeter['workerByStatement'], count: number): string[] {
  return [...byStatement]
    .sort(([, a], [, b]) => b.cpu - a.cpu)
    .slice(0, count)
    .map(([statement, { cpu, kernel }]) => `${cpu.toFixed(1).padStart(7)} s (kernel ${kernel.toFixed(1).padStart(5)} s)  ${statement}`);
}

/** The part of audience-sync's PostgreSQL CPU (every statement's) spent in the kernel. */
export function kernelCpuSeconds(byStatement: CpuMeter['workerByStatement']): number {
  return round([...byStatement.values()].reduce((sum, { kernel }) => sum + kernel, 0));
}

/** A statement's text as one line without its cycle's table names, so that every cycle's copies add up. */
function statementKind(query: string): string {
  return query
    .replace(/\s+/g, ' ')
    .replace(/[0-9a-f]{12,}|[0-9a-f]{8}-[0-9a-f-]{27}/g, '…')
    .trim()
    .slice(0, 110);
}

/** All of a split's CPU seconds: on a machine the phase had to itself, its cores times its time at least. */
export function totalCpuSeconds(split: CpuSplit): number {
  return round(Object.values(split).reduce((sum, seconds) => sum + seconds, 0));
}

/** CPU seconds (user + system) a process has used so far, all its threads included. */
export function processCpuSeconds(pid: number): number {
  const stat = readStat(pid);
  if (stat === undefined) throw new Error(`no process ${pid} to read the CPU use of`);
  return stat.ticks / CLOCK_TICKS_PER_SECOND;
}

function processesCpuSeconds(processes: MeteredProcesses): MeteredProcesses {
  return { worker: processCpuSeconds(processes.worker), temporal: processCpuSeconds(processes.temporal) };
}

function roleOf(client: string): PostgresRole {
  if (client.startsWith('audience-sync')) return 'postgresForWorker';
  if (client.startsWith('graph-emulator')) return 'postgresForEmulator';
  return 'postgresOther';
}

/**
 * A process's command name, user + system ticks, the system ticks alone and its start time (in ticks since boot),
 * or undefined if it is not visible.
 */
function readStat(pid: number): { command: string; ticks: number; kernelTicks: number; startTick: number } | undefined {
  try {
    // The command name in parentheses may hold spaces; the numbered fields follow its closing parenthesis.
    const text = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const nameEnd = text.lastIndexOf(')');
    const fields = text.slice(nameEnd + 2).split(' ');
    return {
      command: text.slice(text.indexOf('(') + 1, nameEnd),
      ticks: Number(fields[11]) + Number(fields[12]),
      kernelTicks: Number(fields[12]),
      startTick: Number(fields[19]),
    };
  } catch {
    return undefined;
  }
}

function bootTicks(): number {
  return Number(readFileSync('/proc/uptime', 'utf8').split(' ')[0]) * CLOCK_TICKS_PER_SECOND;
}

function round(value: number): number {
  return Math.round(value * 10) / 10;
}
