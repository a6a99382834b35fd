import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { Connection } from '@temporalio/client';
import { SEARCH_ATTRIBUTES } from '../workflows/search-attributes';
import { temporalBinary } from './temporal-binaries';

export interface DevServerOptions {
  port: number;
  uiPort?: number;
  /** SQLite file that keeps workflows across restarts; in memory when absent. */
  dbFilename?: string;
  /** Extra `--dynamic-config-value KEY=JSON` settings, e.g. a lower continue-as-new suggestion in tests. */
  dynamicConfig?: Record<string, unknown>;
  stdio?: 'inherit' | 'ignore';
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

/**
 * Starts the Temporal CLI's dev server with our search attributes registered and waits until it answers.
 * The same flags serve `npm start` (persistent SQLite, Web UI) and the end-to-end tests (headless).
 */
export async function startDevServer(options: DevServerOptions): Promise<DevServer> {
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
  const child = spawn(temporalBinary('temporal'), args, {
    stdio: options.stdio ?? 'ignore',
    detached: options.detached ?? false,
  });
  const address = `127.0.0.1:${options.port}`;
  const exited = once(child, 'exit').then(([code]) => {
    throw new Error(`the Temporal dev server exited with code ${code} before it was ready`);
  });
  exited.catch(() => undefined);
  await Promise.race([waitUntilServing(address), exited]);
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

async function waitUntilServing(address: string, timeoutMs = 60_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
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
}
