import { hash } from 'node:crypto';
import { AUDIENCE_SCHEMA, UNHASHED_KEYS } from '../matching/keys';
import { buildMemberRows, type MemberRowsOptions } from '../matching/member-rows';
import { encodeRow } from '../matching/row-codec';
import { FINGERPRINT_COLUMN } from '../db/source-query';

/** A chunk of source members turned into COPY text for the staging table, plus counts for the cycle history. */
export interface EncodedChunk {
  copyText: string;
  /** Source rows read. */
  sourceRows: number;
  /** Source rows without a usable `user_id`, which cannot be tracked and are skipped. */
  withoutUserId: number;
  /** Dropped values by `KEY:reason`. */
  drops: Record<string, number>;
}

const KEY_BITS = new Map(AUDIENCE_SCHEMA.map((key, bit) => [key, 1 << bit]));
const HASHED_SLOTS = AUDIENCE_SCHEMA.map((key) => !UNHASHED_KEYS.has(key));

/**
 * Normalizes, hashes and serializes one chunk of members: for each member a member line (id, fingerprint of its
 * source row, which keys it had, hashes of its rows) and a row line per row (hash, compact row). Pure CPU work on
 * plain values, so it runs unchanged on the activity's thread or on a worker thread.
 */
export function encodeMemberChunk(records: Record<string, unknown>[], options: MemberRowsOptions): EncodedChunk {
  const lines: string[] = [];
  const drops: Record<string, number> = {};
  let withoutUserId = 0;
  for (const record of records) {
    const memberId = record.user_id;
    if (memberId === null || memberId === undefined || String(memberId) === '') {
      withoutUserId++;
      continue;
    }
    const member = buildMemberRows(record, options);
    for (const dropped of member.dropped) {
      const label = `${dropped.key}:${dropped.reason}`;
      drops[label] = (drops[label] ?? 0) + 1;
    }
    let keysMask = 0;
    for (const key of member.keysWithValue) keysMask |= KEY_BITS.get(key) as number;
    const rowHashes: string[] = [];
    for (const row of member.rows) {
      const encoded = encodeRow(row, HASHED_SLOTS);
      // The row's identity is the hash of its content, so equal rows collapse to one.
      const rowHash = hash('sha256', encoded, 'hex');
      // An array element in COPY text: COPY and the array syntax each take one level of backslashes off.
      rowHashes.push(`"\\\\\\\\x${rowHash}"`);
      lines.push(`\\N\t\\N\t\\N\t\\N\t\\\\x${rowHash}\t\\\\x${encoded.toString('hex')}\n`);
    }
    lines.push(
      `${escapeCopyText(String(memberId))}\t${record[FINGERPRINT_COLUMN]}\t${keysMask}\t{${rowHashes.join(',')}}\t\\N\t\\N\n`,
    );
  }
  return { copyText: lines.join(''), sourceRows: records.length, withoutUserId, drops };
}

const COPY_SPECIAL = /[\\\t\n\r]/;
const COPY_SPECIAL_ALL = /[\\\t\n\r]/g;
const COPY_ESCAPES: Record<string, string> = { '\\': '\\\\', '\t': '\\t', '\n': '\\n', '\r': '\\r' };

/** COPY's text format treats backslash, tab and newlines specially; nearly every value has none. */
export function escapeCopyText(value: string): string {
  return COPY_SPECIAL.test(value) ? value.replace(COPY_SPECIAL_ALL, (c) => COPY_ESCAPES[c]) : value;
}

export function mergeCounts(into: Record<string, number>, from: Record<string, number>): void {
  for (const [label, count] of Object.entries(from)) into[label] = (into[label] ?? 0) + count;
}
