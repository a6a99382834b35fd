import net from 'node:net';
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

describe('the ports tests and benchmarks start servers on', () => {
  it('can be listened on at once by number', async () => {
    const server = await listen(await freePort());
    server.close();
  });

  it('are not handed to the next listener on port 0 meanwhile', async () => {
    const reserved = new Set<number>();
    for (let i = 0; i < 100; i++) reserved.add(await freePort());
    const others = await Promise.all(Array.from({ length: 1000 }, () => listen(0)));
    const ports = others.map((other) => (other.address() as net.AddressInfo).port);
    const clashes = ports.filter((port) => reserved.has(port));
    for (const other of others) other.close();
    expect(clashes).toEqual([]);
  });
});

describe('startDevServer', () => {
  it('says why the server stopped when it cannot start', async () => {
    const taken = await listen(0);
    try {
      const port = (taken.address() as net.AddressInfo).port;
      await expect(startDevServer({ port })).rejects.toThrow(
        /exited \(1\) before it was ready; it said:\n.*address already in use/s,
      );
    } finally {
      taken.close();
    }
  }, 60_000);
});
