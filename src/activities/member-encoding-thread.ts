import type { MemberRowsOptions } from '../matching/member-rows';
import { encodeMemberChunk, type EncodedChunk } from './member-chunk-encoding';

/** Piscina's entry point on each worker thread. */
export default function encodeOnThread(task: {
  records: Record<string, unknown>[];
  options: MemberRowsOptions;
}): EncodedChunk {
  return encodeMemberChunk(task.records, task.options);
}
