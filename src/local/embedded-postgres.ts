import { execFile, execFileSync, spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { chownSync, existsSync, mkdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { promisify } from 'node:util';
import { UserFacingError } from '../client/audience-client';
import { freePort, portInUse } from './polling';
import { postgresBinaries, type PostgresBinaries } from './postgres-binaries';

export interface EmbeddedPostgres {
  /** postgres://postgres:<password>@127.0.0.1:<port>/postgres */
  url: string;
  /** Stops the server (a fast shutdown: sessions are ended, the data is kept). */
  stop(): Promise<void>;
}

/** The OS user the server runs as when it cannot run as us; absent when it can. */
interface ServerUser {
  ids: { uid: number; gid: number };
  name: string;
}

const SUPERUSER = 'postgres';
/** In the embedded PostgreSQL's directory: its URL, password included, for other terminals. */
export const EMBEDDED_URL_FILE = 'database-url';
const run = promisify(execFile);

/**
 * Starts a PostgreSQL of our own from the binaries an npm package ships, keeping everything under `dir`: the
 * cluster in `data`, the superuser's password in `password`, the server's log in `server.log`, and its URL in
 * `database-url` (for other terminals; the next start listens on the same port when it is still free). The first
 * start creates the cluster; later ones reuse it, and one still running (an earlier run that was killed) is taken
 * over. Only 127.0.0.1 is listened on, with password authentication.
 *
 * PostgreSQL refuses to run as root, so when we are root the server runs as the user that owns the cluster, for a
 * new one `nobody`.
 */
export async function startEmbeddedPostgres(dir: string, log: (line: string) => void): Promise<EmbeddedPostgres> {
  const binaries = postgresBinaries();
  const dataDir = path.join(dir, 'data');
  const urlFile = path.join(dir, EMBEDDED_URL_FILE);
  mkdirSync(dir, { recursive: true });
  const user = serverUser(dataDir);
  const passwordFile = path.join(dir, 'password');
  if (!existsSync(path.join(dataDir, 'PG_VERSION'))) {
    log(`Creating the embedded PostgreSQL's cluster (${binaries.packageName}) in ${dataDir} (first start) …`);
    if (!existsSync(passwordFile)) writeFileSync(passwordFile, randomBytes(18).toString('base64url'), { mode: 0o600 });
    initialise(binaries, dir, dataDir, readFileSync(passwordFile, 'utf8').trim(), user);
  } else if (!existsSync(passwordFile)) {
    throw new UserFacingError(
      `${passwordFile}, the embedded PostgreSQL's password, is gone: remove ${dir} to start again with an empty cluster.`,
    );
  }
  const password = readFileSync(passwordFile, 'utf8').trim();
  const pgCtl = (args: string[]) =>
    run(binaries.pgCtl, ['-D', dataDir, ...args], { ...user?.ids, env: serverEnvironment() });

  let port = await runningPort(dataDir, pgCtl);
  if (port === undefined) {
    port = (await rememberedPort(urlFile)) ?? (await freePort());
    log(`Starting the embedded PostgreSQL on 127.0.0.1:${port} …`);
    const logFile = path.join(dir, 'server.log');
    writeFileSync(logFile, '', { flag: 'a' });
    if (user) chownSync(logFile, user.ids.uid, user.ids.gid);
    // TCP on 127.0.0.1 only: no socket file in /tmp to collide with another server's or be refused by its mode.
    const options = `-p ${port} -c listen_addresses=127.0.0.1 -c unix_socket_directories=`;
    await pgCtl(['start', '--wait', '--timeout=60', '--log', logFile, '--options', options]).catch(
      (error: { stderr?: string }) => {
        throw new UserFacingError(
          `The embedded PostgreSQL did not start: ${error.stderr?.trim() ?? String(error)}\n` +
            `The end of ${logFile}:\n${tail(readFileSync(logFile, 'utf8'))}`,
        );
      },
    );
  } else {
    log(`The embedded PostgreSQL in ${dataDir} is still running on 127.0.0.1:${port}; using it.`);
  }
  const url = `postgres://${SUPERUSER}:${password}@127.0.0.1:${port}/postgres`;
  writeFileSync(urlFile, `${url}\n`, { mode: 0o600 });
  return {
    url,
    async stop() {
      await pgCtl(['stop', '--wait', '--mode=fast']).catch(async (error: unknown) => {
        if ((await runningPort(dataDir, pgCtl)) !== undefined) throw error;
      });
    },
  };
}

/**
 * Who runs the server: us, unless we are root. Then the owner of an existing cluster (so that it keeps working),
 * else `nobody`, which must be able to reach the binaries and the data directory.
 */
function serverUser(dataDir: string): ServerUser | undefined {
  if (process.getuid?.() !== 0) return undefined;
  const id = (flag: string, user: string) => execFileSync('id', [flag, user], { encoding: 'utf8' }).trim();
  if (existsSync(dataDir)) {
    const { uid, gid } = statSync(dataDir);
    if (uid !== 0) return { ids: { uid, gid }, name: `with uid ${uid}` };
  }
  return { ids: { uid: Number(id('-u', 'nobody')), gid: Number(id('-g', 'nobody')) }, name: 'nobody' };
}

/** initdb, as the server's user, in UTF-8 with English messages. */
function initialise(
  binaries: PostgresBinaries,
  dir: string,
  dataDir: string,
  password: string,
  user: ServerUser | undefined,
): void {
  rmSync(dataDir, { recursive: true, force: true });
  mkdirSync(dataDir, { mode: 0o700 });
  // initdb reads the password from a file, which the server's user must be able to read; it is removed after.
  const passwordFile = path.join(dir, 'initdb-password');
  writeFileSync(passwordFile, `${password}\n`, { mode: 0o600 });
  try {
    if (user) {
      chownSync(dataDir, user.ids.uid, user.ids.gid);
      chownSync(passwordFile, user.ids.uid, user.ids.gid);
      const reach = spawnSync('test', ['-x', binaries.initdb, '-a', '-w', dataDir, '-a', '-r', passwordFile], user.ids);
      if (reach.status !== 0) {
        throw new UserFacingError(
          `PostgreSQL does not run as root, so the embedded one runs as the user ${user.name}, which cannot reach ` +
            `${dataDir} or ${binaries.initdb}: let other users enter the directories above them (chmod o+x), ` +
            'run as a user other than root, or set DATABASE_URL.',
        );
      }
    }
    const initdb = spawnSync(
      binaries.initdb,
      [
        `--pgdata=${dataDir}`,
        `--username=${SUPERUSER}`,
        `--pwfile=${passwordFile}`,
        '--auth=scram-sha-256',
        '--encoding=UTF8',
        `--locale=${serverLocale()}`,
        '--no-instructions',
      ],
      { ...user?.ids, env: serverEnvironment(), encoding: 'utf8' },
    );
    if (initdb.status !== 0) {
      rmSync(dataDir, { recursive: true, force: true });
      throw new UserFacingError(
        `initdb of the embedded PostgreSQL (${binaries.packageName}) failed:\n${tail(initdb.stderr || String(initdb.error))}`,
      );
    }
  } finally {
    rmSync(passwordFile, { force: true });
  }
}

/**
 * C.UTF-8 where the system has it, as Debian's and the official images' PostgreSQL use: code point order and
 * Unicode character classes. Elsewhere (macOS) C, which sorts the same way and classifies ASCII only.
 */
function serverLocale(): string {
  try {
    const locales = execFileSync('locale', ['-a'], { encoding: 'utf8' }).split('\n');
    if (locales.some((name) => /^C\.utf-?8$/i.test(name.trim()))) return 'C.UTF-8';
  } catch {
    // No `locale` command: C is always there.
  }
  return 'C';
}

/** The port of a server already running on the cluster (pg_ctl says so; postmaster.pid's fourth line has it). */
function runningPort(dataDir: string, pgCtl: (args: string[]) => Promise<unknown>): Promise<number | undefined> {
  return pgCtl(['status']).then(
    () => Number(readFileSync(path.join(dataDir, 'postmaster.pid'), 'utf8').split('\n')[3]),
    () => undefined,
  );
}

async function rememberedPort(urlFile: string): Promise<number | undefined> {
  if (!existsSync(urlFile)) return undefined;
  const port = Number(URL.parse(readFileSync(urlFile, 'utf8').trim())?.port);
  return port && !(await portInUse(port)) ? port : undefined;
}

/** Our environment without libpq's variables, which would otherwise steer pg_ctl and the server. */
function serverEnvironment(): NodeJS.ProcessEnv {
  return Object.fromEntries(Object.entries(process.env).filter(([name]) => !name.startsWith('PG')));
}

function tail(text: string, lines = 15): string {
  return text.trimEnd().split('\n').slice(-lines).join('\n');
}
