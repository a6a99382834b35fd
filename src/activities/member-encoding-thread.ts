import type { MemberRowsOptions } from '../matching/member-rows';
import { encodeMembers, type EncodedChunk, type MemberChunk } from './member-chunk-encoding';
import { summarizeMembers, type MemberChunkSummary } from './member-chunk-summary';

/** Piscina's entry point on each worker thread. */
export default function encodeOnThread(task: { chunk: MemberChunk; options: MemberRowsOptions }): EncodedChunk {
  return encodeMembers(task.chunk, task.options);
}

/** The entry point `preview` runs by name (MemberEncoder.summarize). */
export function summarizeOnThread(task: { chunk: MemberChunk; options: MemberRowsOptions; examples: number }): MemberChunkSummary {
  return summarizeMembers(task.chunk, task.options, task.examples);
}
