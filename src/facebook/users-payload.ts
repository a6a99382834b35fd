/** Meta accepts at most 10,000 rows per /users request (reference §3.1). */
export const MAX_ROWS_PER_USERS_REQUEST = 10_000;

/** JSON text of known length that writes itself into the buffer it is handed. */
export interface JsonText {
  readonly byteLength: number;
  /** Writes the text at `offset` and returns the offset after it; it may refuse to be written twice. */
  writeTo(target: Buffer, offset: number): number;
}

/**
 * One batch of rows for POST/DELETE /{audience_id}/users: the JSON text of each row array in schema order,
 * comma-separated (`["<sha256>","",...],[...]`). A batch is megabytes: it is written once, straight into the
 * request body, and neither parsed nor re-serialised nor held as strings.
 */
export interface UsersBatch {
  schema: readonly string[];
  rowCount: number;
  rowsJson: JsonText;
}

/** Meta's upload session (reference §3.2): groups the batches of one upload so progress can be tracked. */
export interface UploadSession {
  sessionId: number;
  batchSeq: number;
  lastBatch: boolean;
  estimatedTotal?: number;
}

/**
 * The JSON body of a /users call, written into one buffer of its exact size from `allocate`. The payload travels in the body because
 * payloads in the URL break at about 65 KB (reference §3.7); `is_raw` is required for multi-key schemas.
 */
export function buildUsersRequestBody(
  batch: UsersBatch,
  session: UploadSession | undefined,
  accessToken: string,
  allocate: (length: number) => Buffer = Buffer.allocUnsafe,
): Buffer {
  if (batch.rowCount === 0 || batch.rowCount > MAX_ROWS_PER_USERS_REQUEST) {
    throw new RangeError(
      `A /users batch must hold 1 to ${MAX_ROWS_PER_USERS_REQUEST} rows; this one holds ${batch.rowCount}`,
    );
  }
  if (batch.schema.length === 0) throw new RangeError('A /users batch needs a schema');
  const head = `{"payload":{"schema":${JSON.stringify(batch.schema)},"is_raw":true,"data":[`;
  const sessionPart = session ? `,"session":${JSON.stringify(sessionBody(session))}` : '';
  const tail = `]}${sessionPart},"access_token":${JSON.stringify(accessToken)}}`;
  const length = Buffer.byteLength(head) + batch.rowsJson.byteLength + Buffer.byteLength(tail);
  const body = allocate(length);
  const rowsStart = body.write(head);
  const rowsEnd = batch.rowsJson.writeTo(body, rowsStart);
  // Sent short or long, the body would be invalid JSON or carry stale bytes of memory.
  if (rowsEnd !== rowsStart + batch.rowsJson.byteLength) throw new RangeError("The batch's rows were not the length they announced");
  body.write(tail, rowsEnd);
  return body;
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
