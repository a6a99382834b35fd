import { hash } from 'node:crypto';
import { COVERAGE_KEYS, VALUE_BIT } from '../matching/keys';
import type { MemberRowsOptions } from '../matching/member-rows';
import { chunkRecords, readSourceMember, stagedRowOptions, type MemberChunk } from './member-chunk-encoding';

/** The bit after the coverage keys' in a summary's masks: the member has at least one row for Meta. */
export const HAS_ROWS_BIT = VALUE_BIT << 1;

/** One source row as `preview` shows it: who, which keys, how many rows, what was dropped; never a value. */
export interface MemberExample {
  userId: string;
  /** Coverage keys it has a usable value for (COVERAGE_KEYS: match keys, LDU, LOOKALIKE_VALUE). */
  keys: string[];
  /** Rows it sends to Meta (one per email, phone, …; none leaves it out of the audience). */
  rows: number;
  /** Its dropped values, as `KEY:reason`. */
  dropped: string[];
}

/**
 * What a chunk of source members would give a cycle, without staging anything: counts, and per member only what
 * `preview` needs to count members and coverage across chunks with each user_id once.
 */
export interface MemberChunkSummary {
  sourceRows: number;
  /** Source rows without a usable `user_id`. */
  withoutUserId: number;
  /** Dropped values by `KEY:reason`. */
  drops: Record<string, number>;
  /**
   * For each source row with a user_id, in order: the first 64 bits of the SHA-1 of its id, so that an id given
   * on two rows is found without holding the ids (two ids share one by a chance of about n²/2^65).
   */
  idDigests: BigUint64Array;
  /** For the same rows: its keys_mask as a cycle stages it, with HAS_ROWS_BIT when it has a row. */
  masks: Uint32Array;
  /** The chunk's first members with a user_id, up to the number asked for. */
  examples: MemberExample[];
  /** For each drop label, the user_ids of the chunk's first members with that drop, up to the number asked for. */
  dropExamples: Record<string, string[]>;
}

/**
 * Normalizes and hashes a chunk as a cycle's encoder does (readSourceMember) and summarizes it. Pure CPU work on
 * plain values, like encodeMembers, so it runs on the encoder's threads.
 */
export function summarizeMembers(chunk: MemberChunk, options: MemberRowsOptions, examples: number): MemberChunkSummary {
  // Its arrays are sized by the chunk's rows; preview is not where a chunk's young garbage matters.
  const records = [...chunkRecords(chunk)];
  const rowOptions = stagedRowOptions(options);
  const drops: Record<string, number> = {};
  const idDigests = new BigUint64Array(records.length);
  const masks = new Uint32Array(records.length);
  const shown: MemberExample[] = [];
  const dropExamples: Record<string, string[]> = {};
  let members = 0;
  for (const record of records) {
    const member = readSourceMember(record, rowOptions, drops);
    if (member === undefined) continue;
    const { rows, dropped } = member.built;
    idDigests[members] = hash('sha1', member.id, 'buffer').readBigUInt64BE(0);
    masks[members] = member.keysMask | (rows.length > 0 ? HAS_ROWS_BIT : 0);
    members++;
    const labels = dropped.map(({ key, reason }) => `${key}:${reason}`);
    if (shown.length < examples) {
      shown.push({ userId: member.id, keys: coverageKeysOf(member.keysMask), rows: rows.length, dropped: labels });
    }
    for (const label of new Set(labels)) {
      if ((dropExamples[label]?.length ?? 0) < examples) (dropExamples[label] ??= []).push(member.id);
    }
  }
  return {
    sourceRows: records.length,
    withoutUserId: records.length - members,
    drops,
    idDigests: idDigests.slice(0, members),
    masks: masks.slice(0, members),
    examples: shown,
    dropExamples,
  };
}

/** The coverage keys whose bits are set in a keys_mask. */
export function coverageKeysOf(mask: number): string[] {
  return COVERAGE_KEYS.filter((_, bit) => (mask & (1 << bit)) !== 0);
}
