import { getTypeParser } from 'pg-types';

/** PostgreSQL type oids whose JavaScript parsing would lose the text the user wrote (time zones, formatting). */
const KEEP_AS_TEXT = new Set([
  1082, // date: pg turns it into a local-midnight Date, which can shift the day of a birth date
  1114, // timestamp
  1184, // timestamptz
]);

const asText = (value: string): string => value;

/**
 * How a source column's text becomes a JavaScript value on the hashing threads: the driver's own parsers (each
 * thread loads its own pg-types, so parsers are chosen here, not with pg's `types.setTypeParser`), except that
 * dates stay the text PostgreSQL prints, so birth dates are normalized from what is stored rather than from a
 * time-zone-shifted Date.
 */
export function sourceTypeParser(oid: number): (text: string) => unknown {
  return KEEP_AS_TEXT.has(oid) ? asText : getTypeParser(oid, 'text');
}
