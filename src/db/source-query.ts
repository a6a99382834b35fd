/**
 * The SQL audience-sync wraps around an audience's own query. Plain text and no driver: the hashing threads load
 * this module for the fingerprint column's name.
 */

/** The audience's SELECT as a subquery. A trailing semicolon is common in pasted SQL and harmless, so it goes. */
function asSubquery(sourceSql: string): string {
  return `(${sourceSql.trim().replace(/;+\s*$/, '')}\n) AS s`;
}

/** The audience's query as written, for checking it without running it (`LIMIT 0`). */
export function sourceQueryText(sourceSql: string): string {
  return `SELECT * FROM ${asSubquery(sourceSql)}`;
}

/**
 * Pass 1: every member's id and a fingerprint of its whole source row, streamed as COPY text straight into our
 * database: no row is parsed in JavaScript, so a cycle in which little changed costs little.
 */
export function fingerprintCopySql(sourceSql: string): string {
  return `COPY (SELECT (s.user_id)::text, ${ROW_FINGERPRINT} FROM ${asSubquery(sourceSql)} WHERE s.user_id IS NOT NULL) TO STDOUT`;
}

/**
 * A 64-bit hash of the row's text: half the cost of md5 over a million rows, and a changed row keeps its old
 * fingerprint with a chance of 2^-64.
 */
const ROW_FINGERPRINT = 'hashtextextended(s::text, 0)';

/** The column pass 2 adds to each source row: the same fingerprint as pass 1, from the same snapshot. */
export const FINGERPRINT_COLUMN = '__audience_sync_fingerprint';

/** Pass 2: the source rows of all members, or (with `$1`, an array of ids) of the members that changed. */
export function memberRowsSql(sourceSql: string, onlyListedMembers: boolean): string {
  const filter = onlyListedMembers ? ' WHERE (s.user_id)::text = ANY ($1::text[])' : '';
  return `SELECT ${ROW_FINGERPRINT} AS ${FINGERPRINT_COLUMN}, s.* FROM ${asSubquery(sourceSql)}${filter}`;
}

/** Pass 2 over all members as COPY text, which names no columns: memberColumnsSql describes them. */
export function memberRowsCopySql(sourceSql: string): string {
  return `COPY (${memberRowsSql(sourceSql, false)}) TO STDOUT`;
}

/** The columns of pass 2's rows, without reading any. */
export function memberColumnsSql(sourceSql: string): string {
  return `${memberRowsSql(sourceSql, false)} LIMIT 0`;
}
