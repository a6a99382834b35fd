import { hash } from 'node:crypto';
import {
  AUDIENCE_SCHEMA,
  countCoverageBits,
  COVERAGE_KEYS,
  coverageByKey,
  LIMITED_DATA_USE_BIT,
  UNHASHED_KEYS,
  VALUE_BIT,
} from '../matching/keys';
import { buildMemberRows, type MemberRows, type MemberRowsOptions } from '../matching/member-rows';
import { compactRowInPlace, encodeRowInto } from '../matching/row-codec';
import { SHA256_BYTES } from '../matching/sha256';
import { BinaryCopyWriter } from '../db/binary-copy';
import { FINGERPRINT_COLUMN } from '../db/source-query';
import { parseCopyTextRows, type SourceColumn } from '../db/copy-text';
import type { AudienceMembership } from '../db/member-changes';

/**
 * Source members to encode: rows the driver already read, or whole lines of COPY text, which the encoding thread
 * parses itself (off the thread that streams the source).
 */
export type MemberChunk =
  | { records: Record<string, unknown>[] }
  | { copyText: Uint8Array; columns: readonly SourceColumn[] };

/** A chunk of source members turned into binary COPY tuples for the staging table, plus counts for the cycle history. */
export interface EncodedChunk {
  /**
   * Tuples in the staging table's column order, without the COPY header and trailer (see db/binary-copy), from the
   * start of an ArrayBuffer of their own that may be longer. A Uint8Array: that is what a Buffer becomes on its way
   * back from a worker thread.
   */
  copyData: Uint8Array;
  /** Source rows read. */
  sourceRows: number;
  /** Source rows without a usable `user_id`, which cannot be tracked and are skipped. */
  withoutUserId: number;
  /** Dropped values by `KEY:reason`. */
  drops: Record<string, number>;
  /** Its members counted as the audience's membership counts them. */
  tally: MembershipTally;
}

/**
 * The chunk's members counted as audienceMembership (db/member-changes) counts stored ones: those with a row, and
 * those with each bit of keys_mask, in the order of COVERAGE_KEYS. A first load that stores every member it staged
 * then has its audience's membership without reading the members back.
 */
export interface MembershipTally {
  withRows: number;
  byBit: number[];
}

export function emptyTally(): MembershipTally {
  return { withRows: 0, byBit: COVERAGE_KEYS.map(() => 0) };
}

export function addTally(into: MembershipTally, from: MembershipTally): void {
  into.withRows += from.withRows;
  from.byBit.forEach((count, bit) => (into.byBit[bit] += count));
}

export function tallied({ withRows, byBit }: MembershipTally): AudienceMembership {
  return { members: withRows, coverage: coverageByKey((bit) => byBit[bit]) };
}

const KEY_BITS = new Map(AUDIENCE_SCHEMA.map((key, bit) => [key, 1 << bit]));
const HASHED_SLOTS = AUDIENCE_SCHEMA.map((key) => !UNHASHED_KEYS.has(key));
/** member_id, fingerprint, keys_mask, row_hashes, row_hash, row_data (see db/cycle-tables). */
const STAGING_COLUMNS = 6;
/**
 * COPY text becomes about 2.9 times as many bytes of tuples (rows are mostly digests, stored compact; 4.5 times
 * where no digest is a known value's): a little more room than that, so a chunk's buffer rarely grows.
 */
const TUPLE_BYTES_PER_SOURCE_BYTE = 3.5;
/** A chunk of a few rows wide with columns that are not match keys starts smaller, and grows if it must. */
const MAX_FIRST_CAPACITY = 8 * 1024 * 1024;

/** `memory`, if given, is written into when it is large enough (see BinaryCopyWriter). */
export function encodeMembers(chunk: MemberChunk, options: MemberRowsOptions, memory?: ArrayBuffer): EncodedChunk {
  if ('records' in chunk) return encodeMemberChunk(chunk.records, options, undefined, memory);
  const capacity = Math.min(Math.ceil(chunk.copyText.byteLength * TUPLE_BYTES_PER_SOURCE_BYTE), MAX_FIRST_CAPACITY);
  return encodeMemberChunk(chunkRecords(chunk), options, capacity, memory);
}

/** The chunk's source rows, parsed here, one at a time, when they came as COPY text. */
export function chunkRecords(chunk: MemberChunk): Iterable<Record<string, unknown>> {
  return 'records' in chunk ? chunk.records : parseCopyTextRows(chunk.copyText, chunk.columns);
}

/** A source row as the member a cycle stages: its id, its rows, and which keys it has (keys.ts COVERAGE_KEYS bits). */
export interface SourceMember {
  id: string;
  built: MemberRows;
  keysMask: number;
}

/** Options for buildMemberRows as a cycle builds rows: digests as bytes, which the staged rows hold. */
export function stagedRowOptions(options: MemberRowsOptions): MemberRowsOptions {
  return { ...options, digests: 'bytes' };
}

/**
 * Normalizes and hashes one source row as a cycle does, counting its dropped values into `drops` by `KEY:reason`;
 * undefined for a row without a usable `user_id`, which cannot be tracked and is skipped.
 */
export function readSourceMember(
  record: Record<string, unknown>,
  rowOptions: MemberRowsOptions,
  drops: Record<string, number>,
): SourceMember | undefined {
  const memberId = record.user_id;
  if (memberId === null || memberId === undefined || String(memberId) === '') return undefined;
  const built = buildMemberRows(record, rowOptions);
  for (const dropped of built.dropped) {
    const label = `${dropped.key}:${dropped.reason}`;
    drops[label] = (drops[label] ?? 0) + 1;
  }
  let keysMask = 0;
  for (const key of built.keysWithValue) keysMask |= KEY_BITS.get(key) as number;
  if (built.limitedDataUse) keysMask |= LIMITED_DATA_USE_BIT;
  if (rowOptions.valueColumn !== undefined && built.rows.length > 0) keysMask |= VALUE_BIT;
  return { id: String(memberId), built, keysMask };
}

/**
 * Normalizes, hashes and serializes one chunk of members: for each member a member tuple (id, fingerprint of its
 * source row, which keys it had, hashes of its rows) and a row tuple per row (hash, compact row). Each member is
 * written as soon as it is built, and a row is hashed in its full form as written, then made compact where it
 * lies, so nothing of a member outlives it. Pure CPU work on plain values, so it runs unchanged on the activity's
 * thread or on a worker thread.
 */
export function encodeMemberChunk(
  records: Iterable<Record<string, unknown>>,
  options: MemberRowsOptions,
  capacity?: number,
  memory?: ArrayBuffer,
): EncodedChunk {
  const rowOptions = stagedRowOptions(options);
  const copy = new BinaryCopyWriter(capacity, memory);
  const drops: Record<string, number> = {};
  const tally = emptyTally();
  let sourceRows = 0;
  let withoutUserId = 0;
  for (const record of records) {
    sourceRows++;
    const member = readSourceMember(record, rowOptions, drops);
    if (member === undefined) {
      withoutUserId++;
      continue;
    }
    const { rows } = member.built;
    if (rows.length > 0) tally.withRows++;
    countCoverageBits(member.keysMask, tally.byBit);
    copy.tuple(STAGING_COLUMNS).utf8(member.id).int8(BigInt(String(record[FINGERPRINT_COLUMN]))).int4(member.keysMask);
    let listedHash = copy.field(rows.length * SHA256_BYTES);
    copy.null().null();
    for (const row of rows) {
      copy.tuple(STAGING_COLUMNS).null().null().null().null();
      const rowHash = copy.field(SHA256_BYTES);
      let dataStart = 0;
      let dataEnd = 0;
      encodeRowInto(row, HASHED_SLOTS, (size) => {
        dataStart = copy.field(size);
        dataEnd = dataStart + size;
        return { buffer: copy.target, offset: dataStart };
      });
      // The row's identity is the hash of its full form, so equal rows collapse to one. It is stored compact.
      const digest = hash('sha256', copy.target.subarray(dataStart, dataEnd), 'binary');
      copy.endLastField(dataStart, compactRowInPlace(copy.target, dataStart, dataEnd));
      copy.target.write(digest, rowHash, 'latin1');
      copy.target.write(digest, listedHash, 'latin1');
      listedHash += SHA256_BYTES;
    }
  }
  // A view of the writer's memory, which a hashing thread transfers whole (member-encoding-thread).
  return { copyData: copy.tuples, sourceRows, withoutUserId, drops, tally };
}

/** Dropped values by `KEY:reason` with the source rows that had no usable user_id, as a cycle records them. */
export function withMissingUserIds(drops: Record<string, number>, withoutUserId: number): Record<string, number> {
  return withoutUserId ? { ...drops, 'user_id:missing': withoutUserId } : drops;
}

export function mergeCounts(into: Record<string, number>, from: Record<string, number>): void {
  for (const [label, count] of Object.entries(from)) into[label] = (into[label] ?? 0) + count;
}
