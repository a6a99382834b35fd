import { randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { ConfigurationError, readEnvironment, type Environment } from '../config/environment';
import type { Pool } from 'pg';
import { createPool } from '../db/pool';
import { startEmulator, type RunningEmulator } from '../emulator';
import { startAudienceWorker } from '../worker/audience-worker';
import { installWorkerRuntime } from '../worker/worker-runtime';
import { AudienceClient, UserFacingError } from '../client/audience-client';
import { formatStatus } from '../client/output';
import { DEFAULT_MAX_CYCLES_PER_RUN, workflowIdFor, type AudienceConfig } from '../workflows/audience-config';
import { EMBEDDED_URL_FILE } from './embedded-postgres';
import { EMBEDDED_POSTGRES_FLAG, localPostgres, redactUrl } from './local-postgres';
import { portInUse } from './polling';
import { projectRoot } from './project-root';
import { createProfilesTable, insertProfiles } from './synthetic-profiles';
import { ensureReaderRole } from './source-reader-role';
import { startDevServer, type DevServer } from './temporal-dev-server';

const UI_PORT = 8233;
const EMULATOR_PORT = 4010;
const DEMO_PROFILES = 5_000;
const EMULATOR_TOKEN = 'local-emulator-token';

const DEMO_AUDIENCE_KEY = 'demo-paying-users';
const DEMO_TABLE = 'demo_profiles';
/** The demo's source role: it can read the demo table and nothing else. */
const READER_ROLE = 'audience_sync_reader';
const DEMO_QUERY = `SELECT user_id, email, phone, first_name, last_name, gender, birthday,
       city, state, zip, country_code, traits
  FROM ${DEMO_TABLE}
 WHERE plan IN ('pro', 'team')`;

/**
 * `npm start`: PostgreSQL (DATABASE_URL, else the machine's on 127.0.0.1:5432, else an embedded one with its data in
 * .data/postgres), the Temporal dev server (SQLite under .data/, Web UI), the Graph API emulator (unless
 * FB_ACCESS_TOKEN is set), a worker, a demo table and a demo audience, all in one terminal. Ctrl-C stops
 * everything; the next start resumes the same workflow and finds the same audience.
 */
async function main(): Promise<void> {
  const unknown = process.argv.slice(2).filter((argument) => argument !== EMBEDDED_POSTGRES_FLAG);
  if (unknown.length > 0) {
    throw new UserFacingError(`Unknown argument ${unknown[0]}: npm start takes only ${EMBEDDED_POSTGRES_FLAG}.`);
  }
  let environment = readEnvironment();
  const temporalPort = Number(environment.TEMPORAL_ADDRESS.split(':').pop());
  const useEmulator = !environment.FB_ACCESS_TOKEN;

  for (const [port, what] of [
    [temporalPort, 'the Temporal dev server (TEMPORAL_ADDRESS)'],
    [UI_PORT, 'the Temporal Web UI'],
    ...(useEmulator ? [[EMULATOR_PORT, 'the Graph API emulator'] as const] : []),
  ] as const) {
    if (await portInUse(port)) {
      throw new UserFacingError(
        `Port ${port}, needed for ${what}, is in use: stop whatever holds it (another \`npm start\`?) and run again.`,
      );
    }
  }

  const dataDir = path.join(projectRoot(), '.data');
  mkdirSync(dataDir, { recursive: true });
  const stoppers: (() => Promise<void>)[] = [];
  const stopAll = async () => {
    for (const stop of stoppers.reverse()) await stop().catch(() => undefined);
  };
  try {
    const postgres = await localPostgres({
      databaseUrl: process.env.DATABASE_URL || undefined,
      forceEmbedded: process.argv.includes(EMBEDDED_POSTGRES_FLAG),
      dir: path.join(dataDir, EMBEDDED_POSTGRES_DIR),
      log: (line) => console.log(line),
    });
    stoppers.push(() => postgres.stop());
    environment = { ...environment, DATABASE_URL: postgres.url };
    const pool = createPool(environment.DATABASE_URL, { max: 2, applicationName: 'audience-sync demo' });
    stoppers.push(() => pool.end());
    await pool.query('SELECT 1').catch((error: Error) => {
      throw new UserFacingError(
        `PostgreSQL is not reachable at DATABASE_URL (${error.message}): start it ` +
          '(e.g. `pg_ctlcluster --skip-systemctl-redirect $(ls /etc/postgresql) main start`), set DATABASE_URL, ' +
          `or run \`npm start -- ${EMBEDDED_POSTGRES_FLAG}\` for a PostgreSQL of its own.`,
      );
    });

    console.log('Starting the Temporal dev server …');
    const devServer: DevServer = await startDevServer({
      port: temporalPort,
      uiPort: UI_PORT,
      dbFilename: path.join(dataDir, 'temporal.sqlite'),
      logFile: path.join(dataDir, 'temporal-server.log'),
      detached: true,
    });
    stoppers.push(() => devServer.stop());

    await createProfilesTable(pool, DEMO_TABLE);
    await insertProfiles(pool, DEMO_TABLE, 1, DEMO_PROFILES);
    const sourceUrl = environment.SOURCE_DATABASE_URL ?? (await demoReader(pool, environment.DATABASE_URL, dataDir));
    let workerEnvironment: Environment = { ...environment, SOURCE_DATABASE_URL: sourceUrl };
    if (useEmulator) {
      const emulator: RunningEmulator = await startEmulator({
        databaseUrl: environment.DATABASE_URL,
        host: '127.0.0.1',
        port: EMULATOR_PORT,
      });
      stoppers.push(() => emulator.close());
      workerEnvironment = { ...workerEnvironment, FB_GRAPH_URL: emulator.url, FB_ACCESS_TOKEN: EMULATOR_TOKEN };
    }

    // The local stack owns Ctrl-C, so the worker drains before the server it talks to goes away.
    installWorkerRuntime({ logLevel: 'WARN', shutdownSignals: [], metricsAddress: environment.METRICS_ADDRESS });
    const { worker, finished } = await startAudienceWorker(workerEnvironment);
    stoppers.push(async () => {
      worker.shutdown();
      await finished;
    });

    const adAccountId = useEmulator ? 'act_1234567890' : process.env.DEMO_AD_ACCOUNT_ID;
    const client = await AudienceClient.connect(environment);
    stoppers.push(() => client.close());
    if (adAccountId) {
      const config: AudienceConfig = {
        audienceKey: DEMO_AUDIENCE_KEY,
        name: 'audience-sync demo: paying users',
        adAccountId,
        sourceSql: DEMO_QUERY,
        intervalMs: 2 * 60 * 1000,
        minSize: 100,
        customerFileSource: 'USER_PROVIDED_ONLY',
        maxCyclesPerRun: DEFAULT_MAX_CYCLES_PER_RUN,
        defaultCountry: 'us',
      };
      const { started } = await client.connectAudience(config);
      console.log(started ? `Connected the demo audience ${DEMO_AUDIENCE_KEY}.` : `Resuming ${DEMO_AUDIENCE_KEY}.`);
    } else {
      console.log('FB_ACCESS_TOKEN is set but DEMO_AD_ACCOUNT_ID is not: no demo audience is connected.');
    }

    printWelcome(environment, useEmulator, environment.SOURCE_DATABASE_URL === undefined, postgres.embedded);
    if (adAccountId) void reportFirstCycle(client);
    await waitForCtrlC();
    console.log('\nStopping …');
  } finally {
    await stopAll();
  }
}

/**
 * The demo's source: a role that can read the demo table and nothing else, with a password kept in .data (the role
 * needs one wherever PostgreSQL asks for passwords), and its URL written beside it for the CLI in other terminals.
 */
async function demoReader(pool: Pool, databaseUrl: string, dataDir: string): Promise<string> {
  const passwordFile = path.join(dataDir, 'source-reader-password');
  if (!existsSync(passwordFile)) writeFileSync(passwordFile, randomBytes(18).toString('base64url'), { mode: 0o600 });
  const url = await ensureReaderRole(pool, databaseUrl, READER_ROLE, readFileSync(passwordFile, 'utf8').trim(), {
    tables: [DEMO_TABLE],
  });
  writeFileSync(path.join(dataDir, SOURCE_URL_FILE), `${url}\n`, { mode: 0o600 });
  return url;
}

const SOURCE_URL_FILE = 'source-database-url';
/** Under .data: the embedded PostgreSQL's cluster, password, log and URL. */
const EMBEDDED_POSTGRES_DIR = 'postgres';

function printWelcome(environment: Environment, useEmulator: boolean, demoSource: boolean, embedded: boolean): void {
  const workflowUrl = `http://localhost:${UI_PORT}/namespaces/${environment.TEMPORAL_NAMESPACE}/workflows/${encodeURIComponent(workflowIdFor(DEMO_AUDIENCE_KEY))}`;
  const connectHint = demoSource
    ? `  export SOURCE_DATABASE_URL="$(cat .data/${SOURCE_URL_FILE})"   # before connect: the demo's read-only source role\n`
    : '';
  const psqlTarget = embedded ? '"$DATABASE_URL"' : redactUrl(environment.DATABASE_URL);
  console.log(`
audience-sync is running.
  Temporal Web UI:   http://localhost:${UI_PORT}  (the demo workflow: ${workflowUrl})
  ${useEmulator ? `Graph emulator:    http://127.0.0.1:${EMULATOR_PORT}/_emulator/audiences` : `Graph API:         ${environment.FB_GRAPH_URL}`}
  PostgreSQL:        ${redactUrl(environment.DATABASE_URL)}${embedded ? ` (embedded, data in .data/${EMBEDDED_POSTGRES_DIR}; full URL in .data/${EMBEDDED_POSTGRES_DIR}/${EMBEDDED_URL_FILE})` : ''}
  Demo data:         table ${DEMO_TABLE}${demoSource ? `, read as the role ${READER_ROLE}` : ''}

Try, in another terminal:
${embedded ? `  export DATABASE_URL="$(cat .data/${EMBEDDED_POSTGRES_DIR}/${EMBEDDED_URL_FILE})"   # for history and psql: the embedded PostgreSQL\n` : ''}  npx audience-sync list
  npx audience-sync status ${DEMO_AUDIENCE_KEY}
  npx audience-sync history ${DEMO_AUDIENCE_KEY}
  npx audience-sync sync-now ${DEMO_AUDIENCE_KEY} --wait
  npx audience-sync pause ${DEMO_AUDIENCE_KEY}   /   npx audience-sync resume ${DEMO_AUDIENCE_KEY}
  npx audience-sync rename ${DEMO_AUDIENCE_KEY} "Paying users"
  psql ${psqlTarget} -c "UPDATE ${DEMO_TABLE} SET plan = 'free' WHERE user_id IN ('u1','u2','u3')"
                                                     # then sync-now again and watch the removes
${connectHint}Ctrl-C stops everything; \`npm start\` again resumes where it left off.
`);
}

/** Tells the newcomer when the demo audience's first cycle has landed, without holding up the prompt. */
async function reportFirstCycle(client: AudienceClient): Promise<void> {
  for (let attempt = 0; attempt < 120; attempt++) {
    try {
      const status = await client.status(DEMO_AUDIENCE_KEY);
      if (status.lastCycle) {
        console.log(`\n${formatStatus(status)}\n`);
        return;
      }
    } catch {
      // The workflow may not have started its first task yet.
    }
    await new Promise((resolve) => setTimeout(resolve, 1000));
  }
}

function waitForCtrlC(): Promise<void> {
  // Listeners stay: one Ctrl-C can arrive more than once (from the terminal, and passed on by npm), and a repeat
  // must not end the process before it has stopped what it started.
  return new Promise((resolve) => {
    process.on('SIGINT', () => resolve());
    process.on('SIGTERM', () => resolve());
  });
}

main().catch((error: unknown) => {
  const known = error instanceof UserFacingError || error instanceof ConfigurationError;
  console.error(`npm start: ${known ? (error as Error).message : String(error)}`);
  process.exit(1);
});
