import { getTypeParser } from 'pg-types';

/** PostgreSQL type oids whose JavaScript parsing would lose the text the user wrote (time zones, formatting). */
const KEEP_AS_TEXT = new Set([
  1082, // date: pg turns it into a local-midnight Date, which can shift the day of a birth date
  1114, // timestamp
  1184, // timestamptz
]);

const asText = (value: string): string => value;

/**
 * How a source column's text becomes a JavaScript value: the driver's own parsers, except that dates stay the
 * text PostgreSQL prints, so birth dates are normalized from what is stored rather than from a time-zone-shifted
 * Date. The source pool and the hashing threads (which read COPY text) share it, so a member's values are the
 * same whichever way its row was read. Each thread loads its own pg-types: a parser set with pg's
 * `types.setTypeParser` would reach the cursor and not the threads, so parsers are chosen here and nowhere else.
 */
export function sourceTypeParser(oid: number): (text: string) => unknown {
  return KEEP_AS_TEXT.has(oid) ? asText : getTypeParser(oid, 'text');
}
