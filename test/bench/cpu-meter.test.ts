import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { once } from 'node:events';
import { Client, Pool } from 'pg';
import { CpuMeter, kernelCpuSeconds } from '../../bench/cpu-meter';

const DATABASE_URL = process.env.DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/postgres';
const pool = new Pool({ connectionString: DATABASE_URL, max: 1 });
const clients: Client[] = [];

afterAll(async () => {
  await Promise.all(clients.map((client) => client.end()));
  await pool.end();
});

/** A connection opened after the meter started, made to spend a fixed amount of CPU, then left open. */
async function busyBackend(applicationName: string, md5Calls: number): Promise<void> {
  const client = new Client({ connectionString: DATABASE_URL, application_name: applicationName });
  clients.push(client);
  await client.connect();
  await client.query('SELECT count(md5(g::text)) FROM generate_series(1, $1::int) AS g', [md5Calls]);
}

describe('CpuMeter', () => {
  it('charges a backend started in the phase from its start to the client it serves, a process by its CPU', async () => {
    // A stand-in worker: a fixed amount of hashing when told to, then idle until it is killed.
    const worker = spawn(process.execPath, [
      '-e',
      `const { hash } = require('node:crypto');
       process.stdin.once('data', () => {
         for (let i = 0; i < 300000; i++) hash('sha256', 'value' + i);
         console.log('done');
       });
       console.log('ready');
       setInterval(() => {}, 1000);`,
    ]);
    // A stand-in Temporal server that does nothing.
    const idle = spawn(process.execPath, ['-e', "console.log('ready'); setInterval(() => {}, 1000)"]);
    try {
      // Both have started, which takes CPU of its own, and the worker hashes only once the meter runs: on a busy
      // machine the hashing once ended before the meter's first sample, and the idle process started after it.
      await Promise.all([once(worker.stdout, 'data'), once(idle.stdout, 'data')]);
      // Sampled only when it starts and when it stops, so the backends are first seen after all their work:
      // charged from their start, they count in full; charged from when they were first seen, they count nothing.
      const meter = await CpuMeter.start(pool, { worker: worker.pid as number, temporal: idle.pid as number }, 60_000);
      worker.stdin.write('go\n');
      const suffix = randomBytes(4).toString('hex');
      const ours = `audience-sync meter-test-${suffix}`;
      const emulator = `graph-emulator meter-test-${suffix}`;
      await Promise.all([busyBackend(ours, 2_000_000), busyBackend(emulator, 500_000), once(worker.stdout, 'data')]);
      const split = await meter.stop();

      const oursSeconds = meter.byClient.get(ours) ?? 0;
      const emulatorSeconds = meter.byClient.get(emulator) ?? 0;
      expect(emulatorSeconds).toBeGreaterThan(0.05);
      // Four times the work. Other suites running alongside move a backend's CPU for the same work by up to 1.7×
      // (twice the work once measured 1.19 times the CPU in CI), hence the wide bounds around 4.
      expect(oursSeconds / emulatorSeconds).toBeGreaterThan(2);
      expect(oursSeconds / emulatorSeconds).toBeLessThan(8);
      // Other suites' connections may add to either role, never take from it.
      expect(split.postgresForWorker).toBeGreaterThanOrEqual(Math.round(oursSeconds * 10) / 10);
      expect(split.postgresForEmulator).toBeGreaterThanOrEqual(Math.round(emulatorSeconds * 10) / 10);
      // The kernel's part of the CPU of audience-sync's backends (other suites' among them) is only a part of it:
      // hashing md5 in memory spends little in the kernel.
      const kernel = kernelCpuSeconds(meter.workerByStatement);
      expect(kernel).toBeGreaterThanOrEqual(0);
      expect(kernel).toBeLessThan(split.postgresForWorker);
      expect(split.worker).toBeGreaterThan(0.05);
      expect(split.temporal).toBeLessThan(split.worker);
    } finally {
      worker.kill();
      idle.kill();
    }
  });
});

describe('kernelCpuSeconds', () => {
  it("adds up every statement's kernel seconds, rounded to a tenth", () => {
    const byStatement = new Map([
      ['INSERT …', { cpu: 5.5, kernel: 1.24 }],
      ['COPY …', { cpu: 2.2, kernel: 0.5 }],
      ['SELECT …', { cpu: 0.3, kernel: 0 }],
    ]);
    expect(kernelCpuSeconds(byStatement)).toBe(1.7);
    expect(kernelCpuSeconds(new Map())).toBe(0);
  });
});
