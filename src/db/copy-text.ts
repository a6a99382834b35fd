import { sourceTypeParser } from './source-types';

/** A column of a source query's result, as the query's description names and types it. */
export interface SourceColumn {
  name: string;
  typeOid: number;
}

const TAB = 0x09;
/** Ends every row of COPY text and occurs nowhere else in it: COPY writes a newline inside a value as `\n`. */
export const NEWLINE = 0x0a;
const BACKSLASH = 0x5c;
const NULL_MARKER = 0x4e; // N, as in \N
/**
 * What a backslash followed by this character stands for; any other (a backslash) stands for itself. COPY TO
 * writes no other escapes: not the octal and hex forms COPY FROM also reads.
 */
const ESCAPED_CONTROL = new Map<number, number>([
  [0x62, 0x08], // \b
  [0x66, 0x0c], // \f
  [0x6e, 0x0a], // \n
  [0x72, 0x0d], // \r
  [0x74, 0x09], // \t
  [0x76, 0x0b], // \v
]);

/**
 * The rows in `data`, whole lines of COPY ... TO STDOUT in text format (UTF-8), as the driver would have given
 * them for the same query: an object per row keyed by column name (a later column of the same name wins), NULL as
 * null, and each value parsed by its column's type (sourceTypeParser). A tab or newline byte always ends a field,
 * as COPY writes those characters inside values as backslash escapes.
 */
export function parseCopyTextRows(data: Uint8Array, columns: readonly SourceColumn[]): Record<string, unknown>[] {
  const text = Buffer.from(data.buffer, data.byteOffset, data.byteLength);
  const parsers = columns.map((column) => sourceTypeParser(column.typeOid));
  const rows: Record<string, unknown>[] = [];
  let row: Record<string, unknown> = {};
  let column = 0;
  let fieldStart = 0;
  let escaped = false;
  for (let i = 0; i < text.length; i++) {
    const byte = text[i];
    if (byte === BACKSLASH) {
      escaped = true;
      i++;
      continue;
    }
    if (byte !== TAB && byte !== NEWLINE) continue;
    if (column === columns.length) throw new Error(`a COPY row has more than its ${columns.length} columns`);
    row[columns[column].name] = fieldValue(text, fieldStart, i, escaped, parsers[column]);
    column++;
    fieldStart = i + 1;
    escaped = false;
    if (byte === NEWLINE) {
      if (column !== columns.length) throw new Error(`a COPY row has ${column} of its ${columns.length} columns`);
      rows.push(row);
      row = {};
      column = 0;
    }
  }
  if (fieldStart !== text.length) throw new Error('COPY text ends inside a row');
  return rows;
}

function fieldValue(
  text: Buffer,
  start: number,
  end: number,
  escaped: boolean,
  parse: (value: string) => unknown,
): unknown {
  if (!escaped) return parse(text.toString('utf8', start, end));
  if (end - start === 2 && text[start + 1] === NULL_MARKER) return null;
  return parse(unescape(text, start, end).toString('utf8'));
}

function unescape(text: Buffer, start: number, end: number): Buffer {
  const out = Buffer.allocUnsafe(end - start);
  let length = 0;
  for (let i = start; i < end; i++) {
    if (text[i] === BACKSLASH) {
      const next = text[++i];
      out[length++] = ESCAPED_CONTROL.get(next) ?? next;
    } else {
      out[length++] = text[i];
    }
  }
  return out.subarray(0, length);
}
