import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { closeSync, openSync, readFileSync, statSync } from 'node:fs';
import { Connection } from '@temporalio/client';
import { SEARCH_ATTRIBUTES } from '../workflows/search-attributes';
import { portInUse } from './polling';
import { temporalBinary } from './temporal-binaries';

export interface DevServerOptions {
  port: number;
  uiPort?: number;
  /** SQLite file that keeps workflows across restarts; in memory when absent. */
  dbFilename?: string;
  /** Extra `--dynamic-config-value KEY=JSON` settings, e.g. a lower continue-as-new suggestion in tests. */
  dynamicConfig?: Record<string, unknown>;
  /**
   * Appends the server's output here. Without it the output comes to us through a pipe, kept only to say why a
   * start failed, and a server we leave behind ends at its next line; with it, the server outlives us if we die.
   */
  logFile?: string;
  /** Own process group, so a Ctrl-C in the terminal reaches only us and we stop the server after the worker. */
  detached?: boolean;
}

export interface DevServer {
  address: string;
  process: ChildProcess;
  stop(): Promise<void>;
}

const SEARCH_ATTRIBUTE_TYPES: Record<string, string> = {
  KEYWORD: 'Keyword',
  INT: 'Int',
  DATETIME: 'Datetime',
  KEYWORD_LIST: 'KeywordList',
};

/** Enough of the server's last words to say why it stopped (a port taken, a locked SQLite file). */
const LAST_WORDS_CHARS = 4096;
/** A start that fails before the server answers is tried again: one of the ports it picks may be taken meanwhile. */
const START_ATTEMPTS = 3;

/**
 * Starts the Temporal CLI's dev server with our search attributes registered and waits until it answers.
 * The same flags serve `npm start` (persistent SQLite, Web UI) and the end-to-end tests (headless).
 */
export async function startDevServer(options: DevServerOptions): Promise<DevServer> {
  for (let attempt = 1; ; attempt++) {
    try {
      return await startOnce(options);
    } catch (error) {
      // Our own port taken is no race that another start would win.
      if (!(error instanceof ExitedBeforeReady) || attempt === START_ATTEMPTS || (await portInUse(options.port))) {
        throw error;
      }
    }
  }
}

class ExitedBeforeReady extends Error {}

async function startOnce(options: DevServerOptions): Promise<DevServer> {
  const args = ['server', 'start-dev', '--ip', '127.0.0.1', '--port', String(options.port), '--log-level', 'warn'];
  if (options.uiPort) args.push('--ui-port', String(options.uiPort), '--ui-disable-news-fetch');
  else args.push('--headless');
  if (options.dbFilename) args.push('--db-filename', options.dbFilename);
  for (const key of SEARCH_ATTRIBUTES) {
    args.push('--search-attribute', `${key.name}=${SEARCH_ATTRIBUTE_TYPES[key.type]}`);
  }
  for (const [name, value] of Object.entries(options.dynamicConfig ?? {})) {
    args.push('--dynamic-config-value', `${name}=${JSON.stringify(value)}`);
  }
  const { logFile } = options;
  const logStart = logFile === undefined ? 0 : (statSync(logFile, { throwIfNoEntry: false })?.size ?? 0);
  const log = logFile === undefined ? undefined : openSync(logFile, 'a');
  let child: ChildProcess;
  try {
    child = spawn(temporalBinary('temporal'), args, {
      stdio: log === undefined ? ['ignore', 'ignore', 'pipe'] : ['ignore', log, log],
      detached: options.detached ?? false,
    });
  } finally {
    if (log !== undefined) closeSync(log);
  }
  // Read for as long as the server runs: a pipe nobody drains would block its logging.
  let piped = '';
  child.stderr?.setEncoding('utf8').on('data', (text: string) => {
    piped = (piped + text).slice(-LAST_WORDS_CHARS);
  });
  const address = `127.0.0.1:${options.port}`;
  // 'close', not 'exit': by then the pipe has been read to its end.
  const exited = once(child, 'close').then(([code, signal]) => {
    const lastWords = (logFile === undefined ? piped : readFileSync(logFile).subarray(logStart).toString('utf8')).trim();
    const said = lastWords ? `; it said:\n${lastWords.slice(-LAST_WORDS_CHARS)}` : '';
    throw new ExitedBeforeReady(`the Temporal dev server exited (${code ?? signal}) before it was ready${said}`);
  });
  try {
    await waitUntilServing(address, exited);
  } catch (error) {
    child.kill('SIGTERM');
    throw error;
  }
  return {
    address,
    process: child,
    async stop() {
      if (child.exitCode !== null || child.signalCode !== null) return;
      const gone = once(child, 'exit');
      child.kill('SIGTERM');
      await gone;
    },
  };
}

/** Polls until the server answers; if it exits first, fails with `exited`'s error and stops polling. */
async function waitUntilServing(address: string, exited: Promise<never>, timeoutMs = 60_000): Promise<void> {
  let gone = false;
  exited.catch(() => (gone = true));
  const deadline = Date.now() + timeoutMs;
  while (!gone) {
    try {
      const connection = await Connection.connect({ address, connectTimeout: '1s' });
      try {
        await connection.workflowService.getSystemInfo({});
        return;
      } finally {
        await connection.close();
      }
    } catch (error) {
      if (Date.now() > deadline) throw new Error(`the Temporal dev server at ${address} did not start: ${error}`);
      await new Promise((resolve) => setTimeout(resolve, 250));
    }
  }
  await exited;
}
