import { Readable } from 'node:stream';
import type { Connection, Submittable } from 'pg';

/** Backend messages of a COPY TO's flow, read here; any other goes back to the driver (see CopyOutStream). */
const ParseComplete = 0x31;
const BindComplete = 0x32;
const CopyOutResponse = 0x48;
const CopyData = 0x64;
const CopyDone = 0x63;
const ParameterStatus = 0x53;
const NoticeResponse = 0x4e;
const NotificationResponse = 0x41;
const COPY_FLOW = new Set([ParseComplete, BindComplete, CopyOutResponse, CopyData, CopyDone, ParameterStatus, NoticeResponse, NotificationResponse]);
const HEADER_BYTES = 5;

/** The source answered in a way no single COPY … TO STDOUT does: the connection is not to be trusted further. */
export class UnexpectedSourceResponse extends Error {
  override name = 'UnexpectedSourceResponse';
}

/**
 * `COPY … TO STDOUT` sent in the extended query protocol, in which PostgreSQL itself refuses a second statement,
 * read as a stream of COPY's bytes. pg-copy-streams sends the simple protocol, which runs every statement in the
 * text. Like it, this reads COPY's data off the socket without the driver's parser, so a row streams through in
 * pieces however long it is (the reader bounds what it holds), and what a socket read brings goes on as one
 * buffer rather than as the driver's message objects, one a row; every other message
 * goes back to the driver, which calls the handlers below: the end of the COPY, an error, or anything a COPY does
 * not send (rows, another COPY, an empty query), which fails the stream rather than the process.
 */
export class CopyOutStream extends Readable implements Submittable {
  rowCount: number | undefined;
  private connection: Connection | undefined;
  private driverData: ((chunk: Buffer) => void) | undefined;
  private readonly header = Buffer.alloc(HEADER_BYTES);
  private headerBytes = 0;
  private code = 0;
  /** Content bytes of the current message still to come. */
  private remaining = 0;
  private attached = false;
  private paused = false;
  /** CopyOutResponse and CopyDone seen: the statement was a COPY TO and sent all of its data. */
  private copyStarted = false;
  private copyDone = false;

  constructor(private readonly text: string) {
    super({ highWaterMark: 256 * 1024 });
  }

  /** Returns an error instead of sending, as the driver's own queries do, when the connection is not as expected. */
  submit(connection: Connection): Error | undefined {
    this.connection = connection;
    const socket = connection.stream;
    const listeners = socket.listeners('data') as ((chunk: Buffer) => void)[];
    if (listeners.length !== 1) return new UnexpectedSourceResponse('the driver reads the connection in a way this reader does not know');
    this.driverData = listeners[0];
    socket.removeListener('data', this.driverData);
    socket.on('data', this.onData);
    this.attached = true;
    const corkable = socket as { cork?: () => void; uncork?: () => void };
    corkable.cork?.();
    try {
      connection.parse({ text: this.text, name: '', types: [] }, false);
      connection.bind({}, false);
      connection.execute({}, false);
      connection.sync();
    } finally {
      corkable.uncork?.();
    }
    return undefined;
  }

  private readonly onData = (chunk: Buffer): void => {
    // COPY sends a message a row. Each row's data is moved up over the headers before it, within the read's own
    // buffer (the driver, whose listener is off, holds none of it), and the read goes on as one view of it: a view
    // of each row and a copy of them all took 0.25–0.65 s of the main thread a million rows in a lab, this 0.06–0.25.
    let kept = 0;
    let offset = 0;
    while (offset < chunk.length) {
      if (this.remaining === 0) {
        let length: number;
        if (this.headerBytes === 0 && chunk.length - offset >= HEADER_BYTES) {
          // The whole header in this read, as nearly always: read where it lies.
          this.code = chunk[offset];
          length = chunk.readUInt32BE(offset + 1);
          if (!COPY_FLOW.has(this.code)) return this.handBack(chunk, kept, chunk.subarray(offset));
          offset += HEADER_BYTES;
        } else {
          const n = Math.min(HEADER_BYTES - this.headerBytes, chunk.length - offset);
          chunk.copy(this.header, this.headerBytes, offset, offset + n);
          this.headerBytes += n;
          offset += n;
          if (this.headerBytes < HEADER_BYTES) break;
          this.headerBytes = 0;
          this.code = this.header[0];
          length = this.header.readUInt32BE(1);
          if (!COPY_FLOW.has(this.code)) {
            return this.handBack(chunk, kept, Buffer.concat([this.header, chunk.subarray(offset)]));
          }
        }
        if (this.code === CopyOutResponse) this.copyStarted = true;
        if (this.code === CopyDone) this.copyDone = true;
        this.remaining = length - 4;
        if (this.remaining < 0) return this.fail(new UnexpectedSourceResponse('the database sent a malformed message'));
        continue;
      }
      const n = Math.min(this.remaining, chunk.length - offset);
      if (this.code === CopyData) {
        if (kept !== offset) chunk.copyWithin(kept, offset, offset + n);
        kept += n;
      }
      this.remaining -= n;
      offset += n;
    }
    this.forward(chunk, kept);
  };

  /** Passes on the first `kept` bytes of the read's buffer: COPY's data, moved up to its start. */
  private forward(chunk: Buffer, kept: number): void {
    if (kept === 0) return;
    if (!this.push(chunk.subarray(0, kept)) && !this.paused && this.attached) {
      // Back-pressure: the socket is read again when the reader wants more.
      this.paused = true;
      this.connection?.stream.pause();
    }
  }

  /** COPY's flow ended in this read: its data goes on, and the rest of the read back to the driver. */
  private handBack(chunk: Buffer, kept: number, rest: Buffer): void {
    this.forward(chunk, kept);
    this.detach(rest);
  }

  /** Gives the socket, and what of it was read past COPY's data, back to the driver. */
  private detach(rest: Buffer): void {
    const socket = (this.connection as Connection).stream;
    socket.removeListener('data', this.onData);
    socket.on('data', this.driverData as (chunk: Buffer) => void);
    this.attached = false;
    if (this.paused) {
      this.paused = false;
      socket.resume();
    }
    if (rest.length > 0) (this.driverData as (chunk: Buffer) => void)(rest);
  }

  override _read(): void {
    if (this.paused && this.attached) {
      this.paused = false;
      this.connection?.stream.resume();
    }
  }

  override _destroy(error: Error | null, callback: (error?: Error | null) => void): void {
    // Stopped in the middle of COPY's data: the connection is mid-message and cannot be used again.
    if (this.attached) this.connection?.stream.destroy();
    callback(error);
  }

  private fail(error: Error): void {
    if (!this.destroyed) this.destroy(error);
  }

  handleCommandComplete(message: { text?: string }): void {
    const count = /^COPY (\d+)$/.exec(message.text ?? '');
    if (count) this.rowCount = Number(count[1]);
  }

  handleReadyForQuery(): void {
    if (!this.copyStarted || !this.copyDone || this.rowCount === undefined) {
      return this.fail(new UnexpectedSourceResponse('the statement ended without a whole COPY'));
    }
    this.push(null);
  }

  handleError(error: Error): void {
    this.fail(error);
  }

  handleRowDescription(): void {
    this.fail(new UnexpectedSourceResponse('the database sent rows where only COPY data was expected'));
  }

  handleDataRow(): void {
    this.fail(new UnexpectedSourceResponse('the database sent rows where only COPY data was expected'));
  }

  handleCopyData(): void {
    this.fail(new UnexpectedSourceResponse('the database sent COPY data after the COPY ended'));
  }

  handleCopyInResponse(connection: Connection): void {
    (connection as unknown as { sendCopyFail(message: string): void }).sendCopyFail('audience-sync sends no COPY data');
    this.fail(new UnexpectedSourceResponse('the database asked for COPY data instead of sending it'));
  }

  handleEmptyQuery(): void {
    this.fail(new UnexpectedSourceResponse('the statement was empty'));
  }

  handlePortalSuspended(): void {
    this.fail(new UnexpectedSourceResponse('the database suspended the COPY'));
  }
}
