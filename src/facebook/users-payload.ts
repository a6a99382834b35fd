/** Meta accepts at most 10,000 rows per /users request (reference §3.1). */
export const MAX_ROWS_PER_USERS_REQUEST = 10_000;

/**
 * One batch of rows for POST/DELETE /{audience_id}/users. Each `rowsJson` entry is the JSON text of one row
 * array in schema order, e.g. '["<sha256>","",...]', so a batch read from the database is sent without being
 * parsed and re-serialised.
 */
export interface UsersBatch {
  schema: readonly string[];
  rowsJson: readonly string[];
}

/** Meta's upload session (reference §3.2): groups the batches of one upload so progress can be tracked. */
export interface UploadSession {
  sessionId: number;
  batchSeq: number;
  lastBatch: boolean;
  estimatedTotal?: number;
}

/**
 * The JSON body of a /users call, assembled by concatenation: a full batch is megabytes of text that is
 * already JSON, and stringifying it again would double the work. The payload travels in the body because
 * payloads in the URL break at about 65 KB (reference §3.7); `is_raw` is required for multi-key schemas.
 */
export function buildUsersRequestBody(batch: UsersBatch, session: UploadSession | undefined, accessToken: string): string {
  if (batch.rowsJson.length === 0 || batch.rowsJson.length > MAX_ROWS_PER_USERS_REQUEST) {
    throw new RangeError(
      `A /users batch must hold 1 to ${MAX_ROWS_PER_USERS_REQUEST} rows; this one holds ${batch.rowsJson.length}`,
    );
  }
  if (batch.schema.length === 0) throw new RangeError('A /users batch needs a schema');
  const payload = `{"schema":${JSON.stringify(batch.schema)},"is_raw":true,"data":[${batch.rowsJson.join(',')}]}`;
  const sessionPart = session ? `,"session":${JSON.stringify(sessionBody(session))}` : '';
  return `{"payload":${payload}${sessionPart},"access_token":${JSON.stringify(accessToken)}}`;
}

function sessionBody(session: UploadSession): Record<string, number | boolean> {
  if (!Number.isSafeInteger(session.sessionId) || session.sessionId <= 0) {
    throw new RangeError('An upload session id must be a positive integer');
  }
  if (!Number.isSafeInteger(session.batchSeq) || session.batchSeq < 1) {
    throw new RangeError('An upload batch_seq starts at 1');
  }
  return {
    session_id: session.sessionId,
    batch_seq: session.batchSeq,
    last_batch_flag: session.lastBatch,
    ...(session.estimatedTotal !== undefined ? { estimated_num_total: session.estimatedTotal } : {}),
  };
}
