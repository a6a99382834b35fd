import path from 'node:path';
import { existsSync } from 'node:fs';
import { availableParallelism } from 'node:os';
import Piscina from 'piscina';
import type { MemberRowsOptions } from '../matching/member-rows';
import { encodeMembers, type EncodedChunk, type MemberChunk } from './member-chunk-encoding';
import { summarizeMembers, type MemberChunkSummary } from './member-chunk-summary';

/** Turns chunks of source members into staging COPY tuples, on worker threads when there are cores for it. */
export interface MemberEncoder {
  /**
   * `memory`, the memory of an earlier chunk's tuples that nothing reads any more, is written into, or let go when
   * too small; the caller must not touch it again.
   */
  encode(chunk: MemberChunk, options: MemberRowsOptions, memory?: ArrayBuffer): Promise<EncodedChunk>;
  /** The same normalization and hashing, summarized for `preview` instead of staged (member-chunk-summary). */
  summarize(chunk: MemberChunk, options: MemberRowsOptions, examples: number): Promise<MemberChunkSummary>;
  /** How many chunks it can usefully work on at once. */
  readonly parallelism: number;
  close(): Promise<void>;
}

const THREAD_FILE = path.join(__dirname, 'member-encoding-thread.js');
const THREAD_HEAP_MB = 96;
const THREAD_IDLE_MS = 500;

/** Encodes on the calling thread, a chunk at a time. */
export const CALLING_THREAD_ENCODER: MemberEncoder = {
  parallelism: 1,
  encode: async (chunk, options, memory) => encodeMembers(chunk, options, memory),
  summarize: async (chunk, options, examples) => summarizeMembers(chunk, options, examples),
  close: async () => undefined,
};

/**
 * `threads` 0 encodes on the calling thread (tests, tiny deployments); otherwise a pool of worker threads does
 * the hashing so that one audience's cycle uses every core while the main thread streams rows in and out.
 */
export function createMemberEncoder(threads: number = availableParallelism()): MemberEncoder {
  // Compiled builds ship the thread file beside this one; running from TypeScript sources has no .js to load.
  if (threads === 0 || !existsSync(THREAD_FILE)) return CALLING_THREAD_ENCODER;
  const pool = new Piscina({
    filename: THREAD_FILE,
    // Threads exist only while members are being encoded: an idle thread keeps the heap its last chunks grew,
    // which the upload that follows (the worker's peak memory) would otherwise carry too, so they end as soon as
    // the chunks stop coming.
    minThreads: 0,
    maxThreads: threads,
    idleTimeout: THREAD_IDLE_MS,
    // A chunk needs a few MB; without a cap each thread's heap grows toward V8's default before it collects. An
    // 8 MB young generation rather than 16 takes ~15 MB off the two threads (the worker's peak, at the start of a
    // large first cycle) for ~5% more collection work.
    resourceLimits: { maxOldGenerationSizeMb: THREAD_HEAP_MB, maxYoungGenerationSizeMb: 8 },
  });
  return {
    parallelism: threads,
    encode: (chunk, options, memory) =>
      pool.run({ chunk, options, memory }, { transferList: memory ? [memory] : [] }) as Promise<EncodedChunk>,
    summarize: (chunk, options, examples) =>
      pool.run({ chunk, options, examples }, { name: 'summarizeOnThread' }) as Promise<MemberChunkSummary>,
    close: () => pool.destroy(),
  };
}
