import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { freePort } from '../../src/local/polling';
import { startDevServer } from '../../src/local/temporal-dev-server';

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
});
