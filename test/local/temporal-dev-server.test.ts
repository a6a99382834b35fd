import { chmodSync, existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { freePort } from '../../src/local/polling';
import { startDevServer } from '../../src/local/temporal-dev-server';
import { temporalBinary } from '../../src/local/temporal-binaries';

/** A server on `port` that hangs up on whoever connects, so that closing it leaves nothing open. */
function listen(port: number): Promise<net.Server> {
  return new Promise((resolve, reject) => {
    const server = net.createServer((socket) => socket.destroy());
    server.once('error', reject);
    server.listen(port, '127.0.0.1', () => resolve(server));
  });
}

const close = (server: net.Server) => new Promise((resolve) => server.close(resolve));
const portOf = (server: net.Server) => (server.address() as net.AddressInfo).port;

describe('the ports tests and benchmarks start servers on', () => {
  it('can be listened on at once by number', async () => {
    await close(await listen(await freePort()));
  });

  it('are not handed to the next listener on port 0 meanwhile', async () => {
    const reserved = new Set<number>();
    for (let i = 0; i < 100; i++) reserved.add(await freePort());
    const others: net.Server[] = [];
    try {
      for (let i = 0; i < 1000; i++) others.push(await listen(0));
      expect(others.map(portOf).filter((port) => reserved.has(port))).toEqual([]);
    } finally {
      await Promise.all(others.map(close));
    }
  });
});

describe('startDevServer', () => {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'temporal-dev-server-'));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  const portTaken = /exited \(1\) before it was ready; it said:\n.*address already in use/s;

  it('says why the server stopped when it cannot start', async () => {
    const taken = await listen(0);
    try {
      await expect(startDevServer({ port: portOf(taken) })).rejects.toThrow(portTaken);
    } finally {
      await close(taken);
    }
  }, 60_000);

  it('says it from its log file, and does not start again on a port that is taken', async () => {
    const logFile = path.join(dir, 'server.log');
    writeFileSync(logFile, 'an earlier run: address already in use\n');
    const taken = await listen(0);
    try {
      const start = startDevServer({ port: portOf(taken), logFile });
      await expect(start).rejects.toThrow(portTaken);
      await expect(start).rejects.not.toThrow(/an earlier run/);
    } finally {
      await close(taken);
    }
    expect(readFileSync(logFile, 'utf8').match(/address already in use/g)).toHaveLength(2);
  }, 60_000);

  /** `text` as one word of sh, whatever it holds. */
  const quoted = (text: string) => `'${text.replace(/'/g, `'\\''`)}'`;

  /**
   * A stand-in for the CLI that counts its starts in `starts` and fails the first `failures` of them as a server
   * whose other port was taken would, then runs the real one. Its paths are written into it: the environment jest
   * gives a test is not the one its child processes get.
   */
  function flakyCli(name: string, failures: number): { starts: string } {
    const starts = path.join(dir, `${name}.starts`);
    const script = path.join(dir, `${name}.sh`);
    writeFileSync(
      script,
      `#!/bin/sh
echo start >> ${quoted(starts)}
if [ "$(wc -l < ${quoted(starts)})" -le ${failures} ]; then
  echo 'listen tcp 127.0.0.1:7243: bind: address already in use' >&2
  exit 1
fi
exec ${quoted(temporalBinary('temporal'))} "$@"
`,
    );
    chmodSync(script, 0o755);
    process.env.TEMPORAL_CLI_PATH = script;
    return { starts };
  }

  const startsIn = (file: string) => (existsSync(file) ? readFileSync(file, 'utf8').split('\n').filter(Boolean).length : 0);
  const cliPath = process.env.TEMPORAL_CLI_PATH;
  afterEach(() => {
    if (cliPath === undefined) delete process.env.TEMPORAL_CLI_PATH;
    else process.env.TEMPORAL_CLI_PATH = cliPath;
  });

  it('starts again when it stops before it is ready on a port of its own that is not ours', async () => {
    const { starts } = flakyCli('once', 1);
    const server = await startDevServer({ port: await freePort() });
    try {
      // A third start if the real server lost a race for one of its ports, which is what the retry is for.
      expect(startsIn(starts)).toBeGreaterThanOrEqual(2);
      expect(server.process.exitCode).toBeNull();
    } finally {
      await server.stop();
    }
  }, 60_000);

  it('gives up after three starts, saying why the last one stopped', async () => {
    const { starts } = flakyCli('always', 10);
    await expect(startDevServer({ port: await freePort() })).rejects.toThrow(portTaken);
    expect(startsIn(starts)).toBe(3);
  }, 60_000);
});
