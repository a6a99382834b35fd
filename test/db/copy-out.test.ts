import { Client } from 'pg';
import { createPool } from '../../src/db/pool';
import { CopyOutStream, UnexpectedSourceResponse } from '../../src/db/copy-out';
import { describeSourceColumns, sourceLimits } from '../../src/db/source-session';
import { checkAudienceSql } from '../../src/db/audience-sql';
import { MEMBER_COLUMNS } from '../../src/db/source-query';
import { waitUntil } from '../../src/local/polling';
import {
  bindComplete,
  commandComplete,
  copyData,
  copyDone,
  copyOutResponse,
  dataRow,
  message,
  parseComplete,
  readyForQuery,
  rowDescription,
  startScriptedPostgres,
  type ScriptedPostgres,
} from '../support/scripted-postgres';

const DATABASE_URL = process.env.DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/postgres';

async function read(stream: CopyOutStream): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const chunk of stream) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks).toString('utf8');
}

describe('CopyOutStream on PostgreSQL', () => {
  const pool = createPool(DATABASE_URL, { max: 2 });
  afterAll(() => pool.end());

  it('streams COPY text, however the rows fall across messages and socket reads, and leaves the connection usable', async () => {
    const client = await pool.connect();
    try {
      const stream = client.query(
        new CopyOutStream(`COPY (SELECT g, repeat('x', g % 70000) FROM generate_series(1, 300) AS g) TO STDOUT`),
      );
      const lines = (await read(stream)).split('\n');
      expect(lines).toHaveLength(301);
      expect(lines[299]).toBe(`300\t${'x'.repeat(300)}`);
      expect(stream.rowCount).toBe(300);
      expect((await client.query('SELECT 1 AS one')).rows).toEqual([{ one: 1 }]);
    } finally {
      client.release();
    }
  });

  it('is refused by the server when the text holds a second statement, and the connection stays usable', async () => {
    const client = await pool.connect();
    try {
      const stream = client.query(new CopyOutStream(`COPY (SELECT 1) TO STDOUT; CREATE TABLE copy_out_pwned (x int)`));
      await expect(read(stream)).rejects.toMatchObject({ code: '42601', message: expect.stringMatching(/multiple commands/) });
      expect((await client.query(`SELECT to_regclass('copy_out_pwned') AS t`)).rows).toEqual([{ t: null }]);
    } finally {
      client.release();
    }
  });

  it('fails on a statement that sends rows instead of COPY data', async () => {
    const client = await pool.connect();
    try {
      await expect(read(client.query(new CopyOutStream('SELECT 1')))).rejects.toThrow(UnexpectedSourceResponse);
    } finally {
      client.release(true);
    }
  });

  it('passes on an error the server raises in the middle of the data', async () => {
    const client = await pool.connect();
    try {
      const stream = client.query(
        new CopyOutStream(`COPY (SELECT 10 / (2000 - g) FROM generate_series(1, 5000) AS g) TO STDOUT`),
      );
      await expect(read(stream)).rejects.toMatchObject({ code: '22012' });
      expect((await client.query('SELECT 2 AS two')).rows).toEqual([{ two: 2 }]);
    } finally {
      client.release();
    }
  });

  it('closes the connection when the reader stops in the middle, so the server does not wait on it', async () => {
    const client = await pool.connect();
    const { rows } = await client.query<{ pid: number }>('SELECT pg_backend_pid() AS pid');
    const stream = client.query(new CopyOutStream(`COPY (SELECT repeat('y', 1000) FROM generate_series(1, 200000)) TO STDOUT`));
    for await (const chunk of stream) {
      expect((chunk as Buffer).length).toBeGreaterThan(0);
      break;
    }
    try {
      // Before the client is given back: stopping the stream is enough.
      await waitUntil(async () => {
        const left = await pool.query('SELECT 1 FROM pg_stat_activity WHERE pid = $1', [rows[0].pid]);
        return left.rowCount === 0;
      }, 10_000);
    } finally {
      client.release(true);
    }
  });
});

describe('CopyOutStream and describeSourceColumns against a source that breaks the protocol or cuts its messages anywhere', () => {
  let server: ScriptedPostgres;
  let client: Client;

  beforeEach(async () => {
    server = await startScriptedPostgres();
    client = new Client({ connectionString: server.url });
    client.on('error', () => undefined);
    await client.connect();
  });

  afterEach(async () => {
    await client.end().catch(() => undefined);
    await server.close();
  });

  const copyStart = () => [parseComplete(), bindComplete(), copyOutResponse()];

  it.each([1, 2, 3, 7, 64])(
    'reads the COPY and gives the connection back whole, however its bytes fall across socket reads (%i a read)',
    async (size) => {
      const rows = ['1\ta\n', '22\tbb\n', '', `3\t${'c'.repeat(300)}\n`];
      const answer = Buffer.concat([
        ...copyStart(), ...rows.map(copyData), copyDone(), commandComplete('COPY 3'), readyForQuery(),
      ]);
      server.script.push((socket) => {
        // A piece at a time, 1 ms apart, so that most arrive as reads of their own: headers and rows cut anywhere.
        socket.setNoDelay(true);
        const send = (at: number) => {
          if (at >= answer.length) return;
          socket.write(answer.subarray(at, at + size));
          setTimeout(() => send(at + size), 1);
        };
        send(0);
      });
      const stream = client.query(new CopyOutStream('COPY (SELECT 1) TO STDOUT'));
      expect(await read(stream)).toBe(rows.join(''));
      expect(stream.rowCount).toBe(3);
      server.script.push(Buffer.concat([rowDescription('x'), dataRow('after'), commandComplete('SELECT 1'), readyForQuery()]));
      expect((await client.query('SELECT 1')).rows).toEqual([{ x: 'after' }]);
    },
  );

  it('fails on a result set after the COPY', async () => {
    server.script.push(
      Buffer.concat([...copyStart(), copyData('1\ta\n'), copyDone(), commandComplete('COPY 1'),
        rowDescription('x'), dataRow('extra'), commandComplete('SELECT 1'), readyForQuery()]),
    );
    await expect(read(client.query(new CopyOutStream('COPY (SELECT 1) TO STDOUT')))).rejects.toThrow(
      /rows where only COPY data was expected/,
    );
  });

  it('fails on COPY data after the COPY ended', async () => {
    server.script.push(
      Buffer.concat([...copyStart(), copyData('1\n'), copyDone(), commandComplete('COPY 1'), copyData('2\n'), readyForQuery()]),
    );
    await expect(read(client.query(new CopyOutStream('COPY (SELECT 1) TO STDOUT')))).rejects.toThrow(/after the COPY ended/);
  });

  it.each([
    ['no COPY at all', [commandComplete('SELECT 0')]],
    ['a COPY count with no COPY', [commandComplete('COPY 7')]],
    ['a COPY whose data never ended', [copyOutResponse(), copyData('1\n'), commandComplete('COPY 1')]],
  ])('fails when the statement ends with %s', async (_case, messages) => {
    server.script.push(Buffer.concat([parseComplete(), bindComplete(), ...messages, readyForQuery()]));
    await expect(read(client.query(new CopyOutStream('COPY (SELECT 1) TO STDOUT')))).rejects.toThrow(/without a whole COPY/);
  });

  it('fails when the connection is cut in the middle of a row', async () => {
    server.script.push((socket) => {
      const row = copyData(`1\t${'z'.repeat(5000)}\n`);
      socket.write(Buffer.concat([...copyStart(), row.subarray(0, 2000)]));
      setTimeout(() => socket.destroy(), 50);
    });
    await expect(read(client.query(new CopyOutStream('COPY (SELECT 1) TO STDOUT')))).rejects.toThrow(/terminated|ended|closed/i);
  });

  it('describes no column, rather than ending the process, when a lookup is answered with COPY data', async () => {
    // The first request asserts the transaction's settings; the second is the lookup.
    server.script.push(
      Buffer.concat([parseComplete(), bindComplete(), rowDescription('set_config'), dataRow('UTF8'), commandComplete('SELECT 1'), readyForQuery()]),
      Buffer.concat([parseComplete(), bindComplete(), message('n'), copyOutResponse(), copyData('1\n'), copyDone(),
        commandComplete('COPY 1'), readyForQuery()]),
    );
    const query = await checkAudienceSql('SELECT * FROM t');
    await expect(describeSourceColumns(client, query, MEMBER_COLUMNS, sourceLimits('1min'))).resolves.toEqual([]);
  });
});
