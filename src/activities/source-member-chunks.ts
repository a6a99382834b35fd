import type { ClientBase } from 'pg';
import type { AudienceSql } from '../db/audience-sql';
import { NEWLINE } from '../db/copy-text';
import { MEMBER_COLUMNS, memberRowsCopy } from '../db/source-query';
import { copyFromSource, describeSourceColumns, type SourceLimits } from '../db/source-session';
import type { MemberChunk } from './member-chunk-encoding';
import { fromSource, missingUserIdFailure, oversizedRowFailure } from './source-query-failure';

/**
 * COPY text handed to the encoder at a time: some 2,000 rows of a typical customer table, big enough to amortize a
 * thread hop, small enough to stream.
 */
const CHUNK_BYTES = 512 * 1024;
/**
 * The longest source row a cycle takes: far beyond any member's match keys, and small enough that a row is held
 * whole on the way to a hashing thread (whose heap is capped) without threatening the worker's memory.
 */
export const MAX_SOURCE_ROW_BYTES = 4 * 1024 * 1024;

/**
 * The source rows of every member, or of the listed ones, as COPY text cut at line ends: this thread only moves
 * bytes, and the encoder threads parse their own chunks, in parallel, with the driver's type parsers. A row is
 * held whole until it is cut, so one longer than MAX_SOURCE_ROW_BYTES fails the cycle instead.
 */
export async function* sourceMemberChunks(
  source: ClientBase,
  query: AudienceSql,
  onlyMembers: string[] | undefined,
  limits: SourceLimits,
): AsyncGenerator<MemberChunk> {
  const columns = await fromSource(describeSourceColumns(source, query, MEMBER_COLUMNS, limits), limits);
  if (!columns.some((column) => column.name === 'user_id')) throw missingUserIdFailure();
  const stream = await fromSource(copyFromSource(source, query, memberRowsCopy(onlyMembers), limits), limits);
  const data = (stream as AsyncIterable<Buffer>)[Symbol.asyncIterator]();
  try {
    let held: Buffer[] = [];
    let heldBytes = 0;
    /** Bytes of the row that has not ended yet. */
    let openRow = 0;
    for (;;) {
      const next = await fromSource(data.next(), limits);
      if (next.done) break;
      const piece = next.value;
      held.push(piece);
      heldBytes += piece.length;
      const lastNewline = piece.lastIndexOf(NEWLINE);
      openRow = lastNewline < 0 ? openRow + piece.length : piece.length - lastNewline - 1;
      if (openRow > MAX_SOURCE_ROW_BYTES) throw oversizedRowFailure(MAX_SOURCE_ROW_BYTES);
      // Cut only where the newest piece ends a row, so a row longer than a chunk is joined once, not piece by piece.
      if (heldBytes < CHUNK_BYTES || lastNewline < 0) continue;
      const text = Buffer.concat(held, heldBytes);
      const end = text.length - openRow;
      held = [text.subarray(end)];
      heldBytes = openRow;
      yield { copyText: text.subarray(0, end), columns };
    }
    // COPY ends every row with a newline: anything left is a cut-off row, which the parser refuses.
    if (heldBytes > 0) yield { copyText: Buffer.concat(held, heldBytes), columns };
  } finally {
    // Stopped early (a failure here or in the encoder): the COPY is abandoned and its connection with it.
    stream.destroy();
  }
}

/**
 * Encodes every chunk with at most `parallelism` in flight and hands each result to `take`, in the order they
 * finish, with the chunk's position in the source: memory stays flat however large the source. A failed chunk
 * stops the reading and is thrown.
 */
export async function encodeEachChunk<T>(
  chunks: AsyncIterable<MemberChunk>,
  parallelism: number,
  encode: (chunk: MemberChunk) => Promise<T>,
  take: (result: T, index: number) => Promise<void> | void,
): Promise<void> {
  const inFlight = new Set<Promise<void>>();
  let index = 0;
  for await (const chunk of chunks) {
    // One chunk per encoder thread while the next is read keeps every core busy without buffering the source.
    while (inFlight.size >= parallelism) await Promise.race(inFlight);
    const position = index++;
    const work = encode(chunk).then((result) => take(result, position));
    inFlight.add(work);
    // A failed chunk stays in the set, so the next wait or the final one throws: its members were not taken.
    void work.then(() => inFlight.delete(work), () => undefined);
  }
  await Promise.all(inFlight);
}
