import { move, transferableSymbol, valueSymbol } from 'piscina';
import type { MemberRowsOptions } from '../matching/member-rows';
import { encodeMembers, type EncodedChunk, type MemberChunk } from './member-chunk-encoding';
import { summarizeMembers, type MemberChunkSummary } from './member-chunk-summary';

/**
 * Piscina's entry point on each worker thread. The tuples' memory is transferred, not cloned, both ways: the main
 * thread hands it back for a later chunk once the COPY has sent it (stageMembers), so that staging mostly writes into
 * memory it already has. A clone was new memory on the main thread for every chunk, which V8 counts against its old
 * generation until a full collection: some 24 of them while staging a million members.
 */
export default function encodeOnThread(task: {
  chunk: MemberChunk;
  options: MemberRowsOptions;
  memory?: ArrayBuffer;
}): ReturnType<typeof move> {
  const encoded: EncodedChunk = encodeMembers(task.chunk, task.options, task.memory);
  return move({ [transferableSymbol]: encoded.copyData.buffer, [valueSymbol]: encoded });
}

/** The entry point `preview` runs by name (MemberEncoder.summarize). */
export function summarizeOnThread(task: { chunk: MemberChunk; options: MemberRowsOptions; examples: number }): MemberChunkSummary {
  return summarizeMembers(task.chunk, task.options, task.examples);
}
