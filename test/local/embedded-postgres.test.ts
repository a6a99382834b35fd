import { chmodSync, mkdtempSync, rmSync, statSync } from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { Client } from 'pg';
import { startEmbeddedPostgres, type EmbeddedPostgres } from '../../src/local/embedded-postgres';
import { portInUse } from '../../src/local/polling';

// Readable by others: as root the server runs as another user, which must reach its directory.
const dir = mkdtempSync(path.join(os.tmpdir(), 'embedded-postgres-'));
chmodSync(dir, 0o755);
const said: string[] = [];
const started: EmbeddedPostgres[] = [];

async function start(): Promise<EmbeddedPostgres> {
  const server = await startEmbeddedPostgres(dir, (line) => said.push(line));
  started.push(server);
  return server;
}

async function query(url: string, sql: string): Promise<unknown[]> {
  const client = new Client({ connectionString: url });
  await client.connect();
  try {
    return (await client.query(sql)).rows;
  } finally {
    await client.end();
  }
}

const portOf = (url: string) => Number(new URL(url).port);

afterAll(async () => {
  for (const server of started) await server.stop();
  rmSync(dir, { recursive: true, force: true });
});

describe('the embedded PostgreSQL', () => {
  it('makes its cluster once, keeps the data and the port across restarts, takes over a server left running, and stops', async () => {
    const first = await start();
    expect(said).toEqual([
      `Creating the embedded PostgreSQL's cluster (@embedded-postgres/${process.platform}-${process.arch}) in ${path.join(dir, 'data')} (first start) …`,
      expect.stringMatching(/^Starting the embedded PostgreSQL on 127\.0\.0\.1:\d+ …$/),
    ]);
    expect(first.url).toMatch(/^postgres:\/\/postgres:[\w-]+@127\.0\.0\.1:\d+\/postgres$/);
    expect(await query(first.url, 'SELECT current_user AS who, inet_server_addr()::text AS address')).toEqual([
      { who: 'postgres', address: '127.0.0.1/32' },
    ]);
    const withoutPassword = new URL(first.url);
    withoutPassword.password = '';
    await expect(query(withoutPassword.toString(), 'SELECT 1')).rejects.toThrow(/password/);
    if (process.getuid?.() === 0) expect(statSync(path.join(dir, 'data')).uid).not.toBe(0);
    await query(first.url, 'CREATE TABLE kept AS SELECT 42 AS answer');
    await first.stop();
    expect(await portInUse(portOf(first.url))).toBe(false);

    said.length = 0;
    const second = await start();
    expect(second.url).toBe(first.url);
    expect(said).toEqual([`Starting the embedded PostgreSQL on 127.0.0.1:${portOf(first.url)} …`]);
    expect(await query(second.url, 'SELECT answer FROM kept')).toEqual([{ answer: 42 }]);

    said.length = 0;
    const third = await start();
    expect(third.url).toBe(second.url);
    expect(said).toEqual([
      `The embedded PostgreSQL in ${path.join(dir, 'data')} is still running on 127.0.0.1:${portOf(first.url)}; using it.`,
    ]);
    await third.stop();
    expect(await portInUse(portOf(first.url))).toBe(false);
  });

  it('listens on a new free port when the one it had is taken', async () => {
    const before = await start();
    await query(before.url, 'CREATE TABLE moved AS SELECT 1 AS n');
    await before.stop();
    const squatter = net.createServer();
    await new Promise<void>((resolve) => squatter.listen(portOf(before.url), '127.0.0.1', resolve));
    try {
      const after = await start();
      expect(portOf(after.url)).not.toBe(portOf(before.url));
      expect(await query(after.url, 'SELECT n FROM moved')).toEqual([{ n: 1 }]);
      await after.stop();
    } finally {
      squatter.close();
    }
  });

  it('says how to start again when the password of its cluster is gone', async () => {
    rmSync(path.join(dir, 'password'));
    await expect(start()).rejects.toThrow(
      `${path.join(dir, 'password')}, the embedded PostgreSQL's password, is gone: remove ${dir} to start again with an empty cluster.`,
    );
  });
});
