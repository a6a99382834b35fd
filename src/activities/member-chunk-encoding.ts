import { hash } from 'node:crypto';
import { AUDIENCE_SCHEMA, UNHASHED_KEYS } from '../matching/keys';
import { buildMemberRows, type MemberRowsOptions } from '../matching/member-rows';
import { encodeRow } from '../matching/row-codec';
import { BinaryCopyWriter } from '../db/binary-copy';
import { FINGERPRINT_COLUMN } from '../db/source-query';
import { parseCopyTextRows, type SourceColumn } from '../db/copy-text';

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
   * Tuples in the staging table's column order, without the COPY header and trailer (see db/binary-copy). A
   * Uint8Array: that is what a Buffer becomes on its way back from a worker thread.
   */
  copyData: Uint8Array;
  /** Source rows read. */
  sourceRows: number;
  /** Source rows without a usable `user_id`, which cannot be tracked and are skipped. */
  withoutUserId: number;
  /** Dropped values by `KEY:reason`. */
  drops: Record<string, number>;
}

const KEY_BITS = new Map(AUDIENCE_SCHEMA.map((key, bit) => [key, 1 << bit]));
const HASHED_SLOTS = AUDIENCE_SCHEMA.map((key) => !UNHASHED_KEYS.has(key));
/** member_id, fingerprint, keys_mask, row_hashes, row_hash, row_data (see db/cycle-tables). */
const STAGING_COLUMNS = 6;

interface EncodedMember {
  memberId: Buffer;
  fingerprint: bigint;
  keysMask: number;
  rows: Buffer[];
  /** Digests as one-byte strings: a Buffer per digest costs more to make than the digest itself. */
  rowHashes: string[];
}

export function encodeMembers(chunk: MemberChunk, options: MemberRowsOptions): EncodedChunk {
  const records = 'records' in chunk ? chunk.records : parseCopyTextRows(chunk.copyText, chunk.columns);
  return encodeMemberChunk(records, options);
}

/**
 * Normalizes, hashes and serializes one chunk of members: for each member a member tuple (id, fingerprint of its
 * source row, which keys it had, hashes of its rows) and a row tuple per row (hash, compact row). Pure CPU work on
 * plain values, so it runs unchanged on the activity's thread or on a worker thread.
 */
export function encodeMemberChunk(records: Record<string, unknown>[], options: MemberRowsOptions): EncodedChunk {
  const rowOptions: MemberRowsOptions = { ...options, digests: 'bytes' };
  const members: EncodedMember[] = [];
  const drops: Record<string, number> = {};
  let withoutUserId = 0;
  for (const record of records) {
    const memberId = record.user_id;
    if (memberId === null || memberId === undefined || String(memberId) === '') {
      withoutUserId++;
      continue;
    }
    const member = buildMemberRows(record, rowOptions);
    for (const dropped of member.dropped) {
      const label = `${dropped.key}:${dropped.reason}`;
      drops[label] = (drops[label] ?? 0) + 1;
    }
    let keysMask = 0;
    for (const key of member.keysWithValue) keysMask |= KEY_BITS.get(key) as number;
    const rows = member.rows.map((row) => encodeRow(row, HASHED_SLOTS));
    const encoded: EncodedMember = {
      memberId: Buffer.from(String(memberId), 'utf8'),
      fingerprint: BigInt(String(record[FINGERPRINT_COLUMN])),
      keysMask,
      rows,
      // The row's identity is the hash of its content, so equal rows collapse to one.
      rowHashes: rows.map((row) => hash('sha256', row, 'binary')),
    };
    members.push(encoded);
  }

  const size = writeTuples(members, new BinaryCopyWriter()).offset;
  const copy = writeTuples(members, new BinaryCopyWriter(Buffer.allocUnsafeSlow(size)));
  // Sized exactly beforehand: anything short would send uninitialized memory to PostgreSQL.
  if (copy.offset !== size) throw new Error(`staging tuples took ${copy.offset} bytes, not the ${size} computed`);
  return { copyData: copy.buffer as Buffer, sourceRows: records.length, withoutUserId, drops };
}

function writeTuples(members: readonly EncodedMember[], copy: BinaryCopyWriter): BinaryCopyWriter {
  for (const member of members) {
    copy
      .tuple(STAGING_COLUMNS)
      .bytes(member.memberId)
      .int8(member.fingerprint)
      .int4(member.keysMask)
      .latin1Array(member.rowHashes)
      .null()
      .null();
    member.rows.forEach((row, i) => {
      copy.tuple(STAGING_COLUMNS).null().null().null().null().latin1(member.rowHashes[i] as string).bytes(row);
    });
  }
  return copy;
}

export function mergeCounts(into: Record<string, number>, from: Record<string, number>): void {
  for (const [label, count] of Object.entries(from)) into[label] = (into[label] ?? 0) + count;
}
