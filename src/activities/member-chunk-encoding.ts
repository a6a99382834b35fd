import { hash } from 'node:crypto';
import { buildMemberRows, type MemberRowsOptions } from '../matching/member-rows';

/** A chunk of source members turned into COPY text for the staging table, plus counts for the cycle history. */
export interface EncodedChunk {
  copyText: string;
  /** Source rows read. */
  sourceRows: number;
  /** Rows written to staging (before de-duplication across members). */
  stagedRows: number;
  /** Source rows without a usable `user_id`, which cannot be tracked and are skipped. */
  withoutUserId: number;
  /** Dropped values by `KEY:reason`. */
  drops: Record<string, number>;
  /** Members with a usable value, by key. */
  coverage: Record<string, number>;
}

/**
 * Normalizes, hashes and serializes one chunk of members. Pure CPU work on plain values, so it runs unchanged
 * on the activity's thread or on a worker thread.
 */
export function encodeMemberChunk(records: Record<string, unknown>[], options: MemberRowsOptions): EncodedChunk {
  const lines: string[] = [];
  const drops: Record<string, number> = {};
  const coverage: Record<string, number> = {};
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
    for (const key of member.keysWithValue) coverage[key] = (coverage[key] ?? 0) + 1;
    const memberField = escapeCopyText(String(memberId));
    for (const row of member.rows) {
      const rowData = JSON.stringify(row);
      // The row's identity is the hash of exactly the text we upload, so equal rows collapse to one.
      lines.push(`\\\\x${hash('sha256', rowData, 'hex')}\t${memberField}\t${escapeCopyText(rowData)}\n`);
    }
  }
  return {
    copyText: lines.join(''),
    sourceRows: records.length,
    stagedRows: lines.length,
    withoutUserId,
    drops,
    coverage,
  };
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
