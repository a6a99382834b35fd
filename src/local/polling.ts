import net from 'node:net';

/**
 * A TCP port nothing listens on right now, for a server we start next: a test's or a benchmark's Temporal dev server,
 * the embedded PostgreSQL.
 *
 * Linux may hand a port closed a moment ago to the next bind to port 0: another test's server, or one of the random
 * ports the Temporal dev server picks for its own services, which then fails to start. So the port is left in
 * TIME_WAIT, as the Temporal CLI leaves its own: for a minute no bind to port 0 gets it, while a server binding it by
 * number with SO_REUSEADDR (Node, Go, Rust and PostgreSQL all set it) still can.
 */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    // The side that closes first keeps TIME_WAIT: it must be the listening side, whose address is the port.
    const server = net.createServer((accepted) => accepted.destroy());
    server.on('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address() as net.AddressInfo;
      const client = net.connect({ host: '127.0.0.1', port });
      client.on('error', reject);
      client.on('close', () => server.close(() => resolve(port)));
    });
  });
}

/** Whether something accepts TCP connections on 127.0.0.1:`port`. */
export function portInUse(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = net.connect({ host: '127.0.0.1', port });
    socket.once('connect', () => {
      socket.destroy();
      resolve(true);
    });
    socket.once('error', () => resolve(false));
  });
}

/** Polls until `check` returns something truthy, for state that settles asynchronously; errors count as "not yet". */
export async function waitUntil<T>(check: () => Promise<T | undefined | false>, timeoutMs: number): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let lastError: unknown;
  for (;;) {
    try {
      const value = await check();
      if (value) return value;
    } catch (error) {
      lastError = error;
    }
    if (Date.now() > deadline) {
      throw new Error(`condition not reached in ${timeoutMs} ms${lastError ? `: ${String(lastError)}` : ''}`);
    }
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}
