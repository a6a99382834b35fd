/**
 * The SQL audience-sync wraps around an audience's own query, as the text before and after it: the query becomes
 * the subquery `s`. Plain text and no driver or parser (the hashing threads load this module for the fingerprint
 * column's name); audience-sql's wrapAudienceSql joins the parts and checks the result. Everything named here is
 * schema-qualified, so an audience's query that moves search_path cannot put another function or type in its place.
 */
export interface WrappedStatement {
  before: string;
  /** The text after the audience's statement, as it is checked. */
  after: string;
  /**
   * The text after it as it is sent, when that differs from `after` only in the content of a dollar-quoted
   * constant (see dollarQuotedConstant), which cannot end early whatever it holds: the check parses the short
   * form, so a long list of member ids is never held in the parser's memory.
   */
  sentAfter?: string;
}

/**
 * A 64-bit hash of the row's text: half the cost of md5 over a million rows, and a changed row keeps its old
 * fingerprint with a chance of 2^-64. `(s.*)` is the whole row even where the audience's query has a column `s`.
 */
const ROW_FINGERPRINT = 'pg_catalog.hashtextextended((s.*)::pg_catalog.text, 0)';

/** The column pass 2 adds to each source row: the same fingerprint as pass 1, from the same snapshot. */
export const FINGERPRINT_COLUMN = '__audience_sync_fingerprint';

/**
 * Pass 1: every member's id and a fingerprint of its whole source row, streamed as COPY text straight into our
 * database: no row is parsed in JavaScript, so a cycle in which little changed costs little.
 */
export const FINGERPRINT_COPY: WrappedStatement = {
  before: `COPY (SELECT (s.user_id)::pg_catalog.text, ${ROW_FINGERPRINT} FROM (`,
  after: ') AS s WHERE s.user_id IS NOT NULL) TO STDOUT',
};

const MEMBER_ROWS = `SELECT ${ROW_FINGERPRINT} AS ${FINGERPRINT_COLUMN}, s.* FROM (`;

/** The columns of pass 2's rows, without reading any. */
export const MEMBER_COLUMNS: WrappedStatement = { before: MEMBER_ROWS, after: ') AS s LIMIT 0' };

/**
 * Pass 2 as COPY text: the source rows of every member or of the listed ones. COPY takes no parameters, so the
 * ids are a constant in the statement.
 */
export function memberRowsCopy(onlyMembers?: readonly string[]): WrappedStatement {
  const before = `COPY (${MEMBER_ROWS}`;
  if (onlyMembers === undefined) return { before, after: ') AS s) TO STDOUT' };
  const ids = (content: string) =>
    `) AS s WHERE (s.user_id)::pg_catalog.text OPERATOR(pg_catalog.=) ANY (${content}::pg_catalog.text[])) TO STDOUT`;
  const constant = dollarQuotedConstant(textArrayLiteral(onlyMembers));
  return { before, after: ids(constant.empty), sentAfter: ids(constant.quoted) };
}

/** PostgreSQL's text form of a text[]: every element in double quotes, with `"` and `\` escaped by a backslash. */
export function textArrayLiteral(values: readonly string[]): string {
  return `{${values.map((value) => `"${value.replace(/[\\"]/g, '\\$&')}"`).join(',')}}`;
}

/**
 * A string constant in dollar quotes whose tag the content does not hold, so nothing in it can end it: unlike a
 * quoted string, its reading depends on no setting (standard_conforming_strings, backslash_quote). `empty` is the
 * same constant with no content, which the parser reads the same way. The content (member ids, which the source
 * wrote) is read once, whatever it holds.
 */
export function dollarQuotedConstant(content: string): { quoted: string; empty: string } {
  // A tag `$cN$` could end the constant early only where the content holds `$cN` (at its very end, the tag's own
  // `$` completes it): any number not found after a `$c` is safe.
  const used = new Set(Array.from(content.matchAll(/\$c(\d+)/g), (match) => match[1]));
  let n = 0;
  while (used.has(String(n))) n++;
  const tag = `$c${n}$`;
  return { quoted: `${tag}${content}${tag}`, empty: `${tag}${tag}` };
}
