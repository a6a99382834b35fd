import type { Writable } from 'node:stream';
import type { Client, ClientBase } from 'pg';

/**
 * Whether every byte written to `copy`, a COPY … FROM STDIN on `client`, has been handed to the operating system:
 * none waits in the COPY stream nor in the socket, whose pending writes still read the memory they were given.
 */
export function copyWritesSent(copy: Writable, client: ClientBase): boolean {
  return copy.writableLength === 0 && (client as Client).connection.stream.writableLength === 0;
}

/** Memory written to a COPY … FROM STDIN, handed back for reuse once the COPY has sent every byte of it. */
export class CopyMemory {
  private readonly unsent: ArrayBuffer[] = [];
  private readonly sent: ArrayBuffer[] = [];

  constructor(
    private readonly copy: Writable,
    private readonly client: ClientBase,
  ) {}

  /** `memory` has been written to the COPY, and is not touched again unless `take` hands it back. */
  written(memory: ArrayBuffer): void {
    this.unsent.push(memory);
    this.settle();
  }

  /** Memory written to the COPY that it has since sent, or undefined. */
  take(): ArrayBuffer | undefined {
    this.settle();
    return this.sent.pop();
  }

  private settle(): void {
    if (this.unsent.length > 0 && copyWritesSent(this.copy, this.client)) this.sent.push(...this.unsent.splice(0));
  }
}
