import type { MemberRowsOptions } from '../matching/member-rows';
import { encodeMembers, type EncodedChunk, type MemberChunk } from './member-chunk-encoding';

/** Piscina's entry point on each worker thread. */
export default function encodeOnThread(task: { chunk: MemberChunk; options: MemberRowsOptions }): EncodedChunk {
  return encodeMembers(task.chunk, task.options);
}
