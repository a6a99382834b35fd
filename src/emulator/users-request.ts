import { z } from 'zod';
import { invalidParameter, missingParameter } from './graph-error-response';
import { findInvalidValue, isMultiKey, isSingleKey } from './match-key-catalog';

/** Meta's per-request cap (reference §3.1). */
export const MAX_ROWS_PER_REQUEST = 10_000;
/** Meta returns up to 100 samples of invalid entries per request (reference §3.3). */
const MAX_INVALID_SAMPLES = 100;

export interface UploadSessionParams {
  sessionId: number;
  batchSeq: number;
  lastBatch: boolean;
  estimatedTotal?: number;
}

/** A validated POST/DELETE /{id}/users request. */
export interface UsersUpload {
  /** Always an array: a single-key schema `"EMAIL_SHA256"` is held as `["EMAIL_SHA256"]`. */
  schema: string[];
  /** The valid rows; the JSON text of each (as JSON.stringify writes it) is its identity in the audience. */
  validRows: unknown[][];
  receivedCount: number;
  invalidCount: number;
  /** Row index in this request → why it is invalid. Keyed by index so no value is echoed back. */
  invalidSamples: Record<string, string>;
  session: UploadSessionParams | undefined;
}

/** Form bodies carry booleans and numbers as text. */
const formBoolean = z.union([z.boolean(), z.enum(['true', 'false', '1', '0']).transform((text) => text === 'true' || text === '1')]);
const formInteger = z.union([z.number(), z.string().regex(/^\d+$/).transform(Number)]).pipe(z.number().int());

const payloadSchema = z.object({
  schema: z.union([z.string().min(1), z.array(z.string()).min(1)]),
  data: z.array(z.unknown()),
  is_raw: formBoolean.optional(),
});

const sessionSchema = z.object({
  session_id: formInteger.pipe(z.number().positive()),
  batch_seq: formInteger.pipe(z.number().min(1)),
  last_batch_flag: formBoolean.optional(),
  estimated_num_total: formInteger.pipe(z.number().min(0)).optional(),
});

const ROW_SHAPE_MESSAGE = 'Data is missing or does not match schema';

/**
 * Validates the parameters of a /users call as Meta documents them. Structural problems fail the whole request
 * with code 100; a row whose values are malformed (for example a hash that is not 64 lowercase hex characters)
 * is only counted as an invalid entry, and the rest of the request goes through.
 */
export function parseUsersUpload(params: Record<string, unknown>): UsersUpload {
  const payload = parseObjectParameter(params, 'payload', payloadSchema);
  if (payload === undefined) throw missingParameter('payload');
  const session = parseObjectParameter(params, 'session', sessionSchema);

  const singleKey = typeof payload.schema === 'string';
  const schema = typeof payload.schema === 'string' ? [payload.schema] : payload.schema;
  const unknownKey = schema.find((key) => !(singleKey ? isSingleKey(key) : isMultiKey(key)));
  if (unknownKey !== undefined) throw invalidParameter(`Invalid schema: ${unknownKey} is not a supported key`);
  if (new Set(schema).size !== schema.length) throw invalidParameter('Invalid schema: a key appears more than once');
  // Meta locates a record from its country and state codes together (reference §7).
  if (schema.includes('DATA_PROCESSING_OPTIONS_STATE') && !schema.includes('DATA_PROCESSING_OPTIONS_COUNTRY')) {
    throw invalidParameter('Invalid schema: DATA_PROCESSING_OPTIONS_STATE needs DATA_PROCESSING_OPTIONS_COUNTRY');
  }
  if (schema.some((key) => key.startsWith('DATA_PROCESSING_OPTIONS_')) && !schema.includes('DATA_PROCESSING_OPTIONS')) {
    throw invalidParameter('Invalid schema: DATA_PROCESSING_OPTIONS_COUNTRY and _STATE need DATA_PROCESSING_OPTIONS');
  }
  if (!singleKey && payload.is_raw !== true) {
    throw invalidParameter('is_raw must be true for a multi-key schema (pre-combined keys are not supported)');
  }
  if (payload.data.length === 0) throw invalidParameter(ROW_SHAPE_MESSAGE);
  if (payload.data.length > MAX_ROWS_PER_REQUEST) {
    throw invalidParameter(`Too many entries: at most ${MAX_ROWS_PER_REQUEST} rows are accepted per request`);
  }

  const validRows: unknown[][] = [];
  const invalidSamples: Record<string, string> = {};
  let invalidCount = 0;
  payload.data.forEach((entry, index) => {
    const row = singleKey && !Array.isArray(entry) ? [entry] : entry;
    if (!Array.isArray(row) || row.length !== schema.length) throw invalidParameter(ROW_SHAPE_MESSAGE);
    const problem = findInvalidValue(schema, row);
    if (problem === undefined) {
      validRows.push(row);
      return;
    }
    invalidCount += 1;
    if (invalidCount <= MAX_INVALID_SAMPLES) invalidSamples[String(index)] = problem;
  });

  return {
    schema,
    validRows,
    receivedCount: payload.data.length,
    invalidCount,
    invalidSamples,
    session: session && {
      sessionId: session.session_id,
      batchSeq: session.batch_seq,
      lastBatch: session.last_batch_flag ?? false,
      ...(session.estimated_num_total !== undefined ? { estimatedTotal: session.estimated_num_total } : {}),
    },
  };
}

/** A parameter sent as a JSON object (JSON body) or as a JSON string (form field), like Meta accepts both. */
export function parseObjectParameter<Schema extends z.ZodType>(
  params: Record<string, unknown>,
  name: string,
  schema: Schema,
): z.output<Schema> | undefined {
  const raw = params[name];
  if (raw === undefined || raw === '') return undefined;
  let value: unknown = raw;
  if (typeof raw === 'string') {
    try {
      value = JSON.parse(raw);
    } catch {
      throw invalidParameter(`param ${name} must be a JSON object`);
    }
  }
  const parsed = schema.safeParse(value);
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    const field = issue && issue.path.length > 0 ? `${name}.${issue.path.join('.')}` : name;
    throw invalidParameter(`param ${field} is invalid: ${issue?.message ?? 'unexpected value'}`);
  }
  return parsed.data;
}
