import { once } from 'node:events';
import { Writable } from 'node:stream';
import type { ClientBase } from 'pg';
import { from as copyFrom } from 'pg-copy-streams';
import { createPool } from '../../src/db/pool';
import { BinaryCopyWriter, COPY_BINARY_HEADER, COPY_BINARY_TRAILER } from '../../src/db/binary-copy';
import { CopyMemory, copyWritesSent } from '../../src/db/copy-in-flight';
import { waitUntil } from '../../src/local/polling';

const DATABASE_URL = process.env.DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/postgres';
const VALUE_BYTES = 8192;
const VALUES = 4096;

describe('copyWritesSent', () => {
  const pool = createPool(DATABASE_URL, { max: 1 });
  afterAll(() => pool.end());

  it('holds memory written to a COPY until the socket has sent it; written again after that, the COPY stores what was written', async () => {
    const client = await pool.connect();
    try {
      await client.query('BEGIN');
      await client.query('CREATE TEMP TABLE copied (data bytea NOT NULL) ON COMMIT DROP');
      const copy = client.query(copyFrom('COPY copied (data) FROM STDIN (FORMAT binary)'));
      copy.write(COPY_BINARY_HEADER);
      // 32 MB: more than a socket hands the operating system at once.
      const writer = new BinaryCopyWriter(VALUES * (VALUE_BYTES + 6));
      for (let n = 0; n < VALUES; n++) {
        const at = writer.tuple(1).field(VALUE_BYTES);
        writer.target.fill(n % 251, at, at + VALUE_BYTES);
      }
      const tuples = writer.tuples;
      copy.write(tuples);
      // Held by the COPY stream until the server has answered the COPY, then by the socket until sent.
      expect(copyWritesSent(copy, client)).toBe(false);
      await waitUntil(async () => copyWritesSent(copy, client), 30_000);
      // Bytes of it still to be sent would now arrive as 0xff: PostgreSQL would refuse them or store them.
      tuples.fill(0xff);
      copy.end(COPY_BINARY_TRAILER);
      await once(copy, 'finish');
      const { rows } = await client.query<{ values: number; intact: boolean }>(
        `SELECT count(*)::int AS values, bool_and(length(data) = $1 AND get_byte(data, 0) <> 255) AS intact FROM copied`,
        [VALUE_BYTES],
      );
      expect(rows[0]).toEqual({ values: VALUES, intact: true });
      await client.query('ROLLBACK');
    } finally {
      client.release();
    }
  });

  // The COPY stream calls a write under the socket's 16 kB high-water mark done at once, while the socket may still
  // hold it: on a real connection that needs a full socket buffer at that moment, which no test can arrange.
  it('counts a write the socket has not finished, even when the COPY stream has called it done', () => {
    const { copy, client, socket } = standIns();
    socket.write(Buffer.alloc(100));
    expect(copyWritesSent(copy, client)).toBe(false);
  });
});

/** A COPY stream that is done with every write at once, on a client whose socket finishes a write when told to. */
function standIns() {
  const copy = new Writable({ write: (_chunk, _encoding, done) => done() });
  let finishWrite: (() => void) | undefined;
  // Until it is finished, a write the operating system has not taken: its callback has not come.
  const socket = new Writable({ write: (_chunk, _encoding, done) => (finishWrite = () => done()) });
  const client = { connection: { stream: socket } } as unknown as ClientBase;
  return { copy, client, socket, finishWrite: () => finishWrite?.() };
}

describe('CopyMemory', () => {
  it('hands memory back only once the COPY has sent it, and once', () => {
    const { copy, client, socket, finishWrite } = standIns();
    const chunks = new CopyMemory(copy, client);
    expect(chunks.take()).toBeUndefined();
    const first = new ArrayBuffer(8);
    socket.write(Buffer.from(first));
    chunks.written(first);
    expect(chunks.take()).toBeUndefined();
    finishWrite();
    expect(chunks.take()).toBe(first);
    expect(chunks.take()).toBeUndefined();
    const second = new ArrayBuffer(8);
    chunks.written(second);
    expect(chunks.take()).toBe(second);
  });
});
