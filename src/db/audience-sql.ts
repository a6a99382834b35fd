import v8 from 'node:v8';
import type { WrappedStatement } from './source-query';

type Parser = typeof import('libpg-query');

/**
 * An audience's SQL that PostgreSQL's own parser found to be exactly one SELECT that only reads. Only
 * checkAudienceSql makes one.
 */
export interface AudienceSql {
  /** The statement as the parser delimits it: what follows it (a semicolon, comments) is not part of it. */
  readonly statement: string;
  /** Its parse tree without positions, to find it again, unchanged, inside the statements that wrap it. */
  readonly tree: string;
}

/** The audience's SQL is not one read-only SELECT. The message names what was found, and never quotes the SQL. */
export class AudienceSqlRejected extends Error {
  override name = 'AudienceSqlRejected';
}

const ONE_SELECT = 'The audience query must be one SELECT statement';
const ONLY_READS = 'The audience query must only read';
/** Statements whose data-modifying form a SELECT can hold in a WITH clause. */
const MODIFYING = { InsertStmt: 'INSERT', UpdateStmt: 'UPDATE', DeleteStmt: 'DELETE', MergeStmt: 'MERGE' } as const;
const LOCK_STRENGTHS: Record<string, string> = {
  LCS_FORUPDATE: 'FOR UPDATE',
  LCS_FORNOKEYUPDATE: 'FOR NO KEY UPDATE',
  LCS_FORSHARE: 'FOR SHARE',
  LCS_FORKEYSHARE: 'FOR KEY SHARE',
};

const NOT_TEXT = /\0|[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/;

interface ParsedStatement {
  stmt: Record<string, unknown>;
  stmt_location?: number;
  stmt_len?: number;
}

let loading: Promise<void> | undefined;
let parser: Parser | undefined;

/**
 * PostgreSQL's parser, compiled from WebAssembly once per process; every check waits for it, later parses run
 * synchronously. It is compiled with V8's baseline compiler only (Liftoff): the optimizing tier would add some
 * 40 MB of machine code to the worker for parses that take a fraction of a millisecond (measured over 2,000 parses
 * of a cycle's statement: 94 MB of RSS and 333 µs a parse with it, 54 MB and 139 µs without). The flag is set only
 * while the module compiles.
 */
function loadParser(): Promise<void> {
  loading ??= (async () => {
    v8.setFlagsFromString('--liftoff-only');
    try {
      const loaded = await import('libpg-query');
      await loaded.loadModule();
      parser = loaded;
    } finally {
      v8.setFlagsFromString('--no-liftoff-only');
    }
  })();
  return loading;
}

/**
 * Parses the audience's SQL with PostgreSQL's parser (libpg-query) and accepts exactly one query statement that
 * only reads: a SELECT, WITH … SELECT, VALUES or TABLE, with nothing but comments and whitespace after it, no
 * SELECT … INTO, no locking clause and no data-modifying statement anywhere in it. Runs before the SQL is sent to
 * any database: by `connect`, and by every cycle, since any Temporal client can write a workflow's input.
 */
export async function checkAudienceSql(sql: string): Promise<AudienceSql> {
  // The parser reads a C string of UTF-8: it would stop at a NUL, and lose its place at half a surrogate pair.
  if (NOT_TEXT.test(sql)) {
    throw new AudienceSqlRejected(`${ONE_SELECT}; it holds a character that is not text (a NUL, or half of a surrogate pair).`);
  }
  await loadParser();
  const statements = parse(sql, (message) => `${ONE_SELECT}; it does not parse: ${message}`);
  if (statements.length === 0) throw new AudienceSqlRejected(`${ONE_SELECT}; it holds none (only comments or whitespace).`);
  const utf8 = Buffer.from(sql, 'utf8');
  const texts = statements.map((statement) => statementText(utf8, statement));
  if (statements.length > 1) {
    const kinds = statements.map((statement, i) => statementKind(statement.stmt, texts[i]));
    throw new AudienceSqlRejected(`${ONE_SELECT}; it holds ${statements.length} statements (${kinds.join(', ')}).`);
  }
  const [only] = statements;
  const kind = statementKind(only.stmt, texts[0]);
  if (!('SelectStmt' in only.stmt)) throw new AudienceSqlRejected(`${ONE_SELECT}; it is ${article(kind)} ${kind} statement.`);
  const problem = firstWrite(only.stmt);
  if (problem) throw new AudienceSqlRejected(`${ONLY_READS}; ${problem}.`);
  return { statement: texts[0], tree: treeWithoutPositions(only.stmt) };
}

/**
 * The text of one of audience-sync's statements with the audience's statement as its subquery `s`, after checking
 * that the parser reads it as one statement that is exactly the wrapper with the audience's statement inside,
 * unchanged: no text of the audience's can reach beyond its parentheses. A newline ends the audience's statement,
 * so a trailing `--` comment ends there too.
 */
export function wrapAudienceSql(query: AudienceSql, wrapper: WrappedStatement): string {
  const checked = `${wrapper.before}${query.statement}\n${wrapper.after}`;
  const expected = treeWithoutPositions(onlyStatement(`${wrapper.before}${PLACEHOLDER}\n${wrapper.after}`));
  placeholderTree ??= treeWithoutPositions(onlyStatement(PLACEHOLDER));
  const found = treeWithoutPositions(onlyStatement(checked));
  if (expected.split(placeholderTree).length !== 2 || found !== expected.replace(placeholderTree, () => query.tree)) {
    throw new AudienceSqlRejected(
      `${ONE_SELECT}; inside the statement audience-sync wraps around it, it no longer parses as that one SELECT.`,
    );
  }
  return wrapper.sentAfter === undefined ? checked : `${wrapper.before}${query.statement}\n${wrapper.sentAfter}`;
}

/** A statement no audience writes, whose parse tree marks where the audience's goes in a wrapper's. */
const PLACEHOLDER = 'SELECT 1 AS audience_sync_placeholder';
let placeholderTree: string | undefined;

function parse(sql: string, describe: (message: string) => string): ParsedStatement[] {
  if (!sql.trim()) return [];
  if (!parser) throw new Error('the SQL parser is used before checkAudienceSql loaded it');
  try {
    return (parser.parseSync(sql).stmts ?? []) as ParsedStatement[];
  } catch (error) {
    const details = (error as { sqlDetails?: { cursorPosition?: number } }).sqlDetails;
    const at = details?.cursorPosition === undefined ? '' : ` at character ${characterAt(sql, details.cursorPosition)}`;
    throw new AudienceSqlRejected(`${describe((error as Error).message)}${at}.`);
  }
}

function onlyStatement(sql: string): Record<string, unknown> {
  const statements = parse(sql, (message) => `${ONE_SELECT}; inside the statement audience-sync wraps around it: ${message}`);
  if (statements.length !== 1) {
    throw new AudienceSqlRejected(`${ONE_SELECT}; inside the statement audience-sync wraps around it, it makes ${statements.length}.`);
  }
  return statements[0].stmt;
}

/** The parser reports byte offsets into the UTF-8 text (0-based); people count characters from 1. */
function characterAt(sql: string, byteOffset: number): number {
  return Buffer.from(sql, 'utf8').subarray(0, byteOffset).toString('utf8').length + 1;
}

/** A statement's own text: a length of 0 means it runs to the end of the input. */
function statementText(utf8: Buffer, statement: ParsedStatement): string {
  const start = statement.stmt_location ?? 0;
  const end = statement.stmt_len ? start + statement.stmt_len : utf8.length;
  return utf8.subarray(start, end).toString('utf8');
}

/** SELECT, INSERT, … by what the parser made of it (a WITH may lead any of them), else the statement's first word. */
function statementKind(stmt: Record<string, unknown>, text: string): string {
  if ('SelectStmt' in stmt) return 'SELECT';
  for (const [node, kind] of Object.entries(MODIFYING)) if (node in stmt) return kind;
  return (/^[A-Za-z_]+/.exec(text)?.[0] ?? 'unknown').toUpperCase();
}

function article(word: string): string {
  return /^[AEIOU]/.test(word) ? 'an' : 'a';
}

/** What in a SELECT's tree writes or locks, anywhere in it (subqueries included), as the end of a sentence. */
function firstWrite(node: unknown): string | undefined {
  if (Array.isArray(node)) {
    for (const item of node) {
      const found = firstWrite(item);
      if (found) return found;
    }
    return undefined;
  }
  if (node === null || typeof node !== 'object') return undefined;
  for (const [key, value] of Object.entries(node)) {
    if (key === 'intoClause') return 'it has SELECT … INTO, which creates a table';
    if (key === 'lockingClause') {
      const strength = (value as { LockingClause?: { strength?: string } }[])[0]?.LockingClause?.strength ?? '';
      return `it locks rows (${LOCK_STRENGTHS[strength] ?? 'FOR UPDATE'})`;
    }
    if (key in MODIFYING) {
      const kind = MODIFYING[key as keyof typeof MODIFYING];
      return `it holds ${article(kind)} ${kind}`;
    }
    const found = firstWrite(value);
    if (found) return found;
  }
  return undefined;
}

/** Fields that say where in the text a node was (location, list_start, rexpr_list_end, name_location, …). */
const POSITION = /(location|_start|_end)$/;

function treeWithoutPositions(stmt: Record<string, unknown>): string {
  return JSON.stringify(stmt, (key, value: unknown) => (typeof value === 'number' && POSITION.test(key) ? undefined : value));
}
