import net from 'node:net';

/**
 * A server that speaks just enough of PostgreSQL's protocol to let a client connect, then answers each of the
 * client's requests (a Sync or a simple Query) with the next scripted bytes: a source that misbehaves in ways a
 * real PostgreSQL would not, at the protocol level.
 */
export interface ScriptedPostgres {
  url: string;
  /** Answers, in order; a function answers with what it writes to the socket itself (to cut it, say). */
  script: (Buffer | ((socket: net.Socket) => void))[];
  close(): Promise<void>;
}

export async function startScriptedPostgres(): Promise<ScriptedPostgres> {
  const sockets = new Set<net.Socket>();
  const scripted: ScriptedPostgres = { url: '', script: [], close: async () => undefined };
  const server = net.createServer((socket) => {
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
    socket.on('error', () => undefined);
    let buffer = Buffer.alloc(0);
    let started = false;
    socket.on('data', (chunk) => {
      buffer = Buffer.concat([buffer, chunk]);
      for (;;) {
        if (!started) {
          if (buffer.length < 4 || buffer.length < buffer.readUInt32BE(0)) return;
          buffer = buffer.subarray(buffer.readUInt32BE(0));
          started = true;
          socket.write(Buffer.concat([message('R', int32(0)), message('K', Buffer.concat([int32(1), int32(2)])), readyForQuery()]));
          continue;
        }
        if (buffer.length < 5 || buffer.length < 1 + buffer.readUInt32BE(1)) return;
        const code = String.fromCharCode(buffer[0]);
        buffer = buffer.subarray(1 + buffer.readUInt32BE(1));
        if (code !== 'S' && code !== 'Q') continue;
        const answer = scripted.script.shift();
        if (typeof answer === 'function') answer(socket);
        else if (answer) socket.write(answer);
      }
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  scripted.url = `postgres://scripted@127.0.0.1:${(server.address() as net.AddressInfo).port}/scripted`;
  scripted.close = async () => {
    for (const socket of sockets) socket.destroy();
    await new Promise((resolve) => server.close(resolve));
  };
  return scripted;
}

export function message(code: string, body: Buffer = Buffer.alloc(0)): Buffer {
  return Buffer.concat([Buffer.from(code, 'latin1'), int32(body.length + 4), body]);
}

function int32(value: number): Buffer {
  const buffer = Buffer.alloc(4);
  buffer.writeInt32BE(value);
  return buffer;
}

function cstring(text: string): Buffer {
  return Buffer.from(`${text}\0`, 'utf8');
}

export const parseComplete = () => message('1');
export const bindComplete = () => message('2');
export const copyOutResponse = () => message('H', Buffer.from([0, 0, 1, 0, 0]));
export const copyData = (text: string) => message('d', Buffer.from(text, 'utf8'));
export const copyDone = () => message('c');
export const commandComplete = (tag: string) => message('C', cstring(tag));
export const readyForQuery = () => message('Z', Buffer.from('I', 'latin1'));

/** A one-column text row description, and a row of it. */
export function rowDescription(column: string): Buffer {
  const field = Buffer.concat([cstring(column), int32(0), Buffer.from([0, 0]), int32(25), Buffer.from([0xff, 0xff]), int32(-1), Buffer.from([0, 0])]);
  return message('T', Buffer.concat([Buffer.from([0, 1]), field]));
}

export function dataRow(value: string): Buffer {
  const text = Buffer.from(value, 'utf8');
  return message('D', Buffer.concat([Buffer.from([0, 1]), int32(text.length), text]));
}
