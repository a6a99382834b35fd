import { classifyGraphError, type GraphErrorKind, type GraphErrorName } from './error-classification';
import { redactSensitiveText } from './redaction';

/** The `error` object of Meta's error envelope, as far as this client relies on it. */
export interface GraphErrorBody {
  message?: string;
  type?: string;
  code?: number;
  error_subcode?: number;
  fbtrace_id?: string;
  is_transient?: boolean;
  error_user_title?: string;
  error_user_msg?: string;
}

export interface GraphApiErrorDetails {
  kind: GraphErrorKind;
  name: GraphErrorName;
  reason: string;
  /** `METHOD /version/path` without the query string. */
  endpoint: string;
  httpStatus?: number;
  code?: number;
  subcode?: number;
  type?: string;
  fbtraceId?: string;
  isTransient?: boolean;
  retryAfterMs?: number;
  /** Meta's own text, already redacted. */
  metaMessage?: string;
}

/**
 * A failed Graph API call, classified for the caller. The message is built from structured facts plus Meta's
 * text after redaction, so it never carries the token, a person's data or the request payload.
 */
export class GraphApiError extends Error {
  readonly kind: GraphErrorKind;
  /** Which case within the kind, e.g. 'audience_size_too_low' or 'custom_audience_terms_not_accepted'. */
  readonly subcodeName: GraphErrorName;
  readonly reason: string;
  readonly endpoint: string;
  readonly httpStatus: number | undefined;
  readonly code: number | undefined;
  readonly subcode: number | undefined;
  readonly type: string | undefined;
  readonly fbtraceId: string | undefined;
  readonly isTransient: boolean | undefined;
  readonly retryAfterMs: number | undefined;
  readonly metaMessage: string | undefined;

  constructor(details: GraphApiErrorDetails) {
    super(describe(details));
    this.name = 'GraphApiError';
    this.kind = details.kind;
    this.subcodeName = details.name;
    this.reason = details.reason;
    this.endpoint = details.endpoint;
    this.httpStatus = details.httpStatus;
    this.code = details.code;
    this.subcode = details.subcode;
    this.type = details.type;
    this.fbtraceId = details.fbtraceId;
    this.isTransient = details.isTransient;
    this.retryAfterMs = details.retryAfterMs;
    this.metaMessage = details.metaMessage;
  }

  /** Meta's 200/1870047: this removal would leave the audience too small, so retrying it is pointless. */
  get wouldLeaveAudienceTooSmall(): boolean {
    return this.subcodeName === 'audience_size_too_low';
  }
}

export function isGraphApiError(error: unknown): error is GraphApiError {
  return error instanceof GraphApiError;
}

export interface ErrorResponseFacts {
  endpoint: string;
  httpStatus: number;
  /** Meta's envelope's `error` object, when the body was one. */
  body: GraphErrorBody | undefined;
  /** Retry wait read from the usage headers, if they named one. */
  headerRetryAfterMs: number | undefined;
  /** Secrets to cut from Meta's message text (the access token). */
  secrets: readonly string[];
}

export function graphApiErrorFromResponse(facts: ErrorResponseFacts): GraphApiError {
  const { body } = facts;
  const classification = classifyGraphError({
    httpStatus: facts.httpStatus,
    ...(body?.code !== undefined ? { code: body.code } : {}),
    ...(body?.error_subcode !== undefined ? { subcode: body.error_subcode } : {}),
    ...(body?.is_transient !== undefined ? { isTransient: body.is_transient } : {}),
  });
  return new GraphApiError({
    kind: classification.kind,
    name: classification.name,
    reason: classification.reason,
    endpoint: facts.endpoint,
    httpStatus: facts.httpStatus,
    ...(body?.code !== undefined ? { code: body.code } : {}),
    ...(body?.error_subcode !== undefined ? { subcode: body.error_subcode } : {}),
    ...(body?.type !== undefined ? { type: body.type } : {}),
    ...(body?.fbtrace_id !== undefined ? { fbtraceId: body.fbtrace_id } : {}),
    ...(body?.is_transient !== undefined ? { isTransient: body.is_transient } : {}),
    ...(body?.message !== undefined ? { metaMessage: redactSensitiveText(body.message, facts.secrets) } : {}),
    ...(classification.kind === 'throttled'
      ? { retryAfterMs: facts.headerRetryAfterMs ?? classification.defaultRetryAfterMs }
      : {}),
  });
}

/** No usable answer arrived: the connection failed or dropped, the call timed out, or the body was not Meta's. */
export function graphApiErrorWithoutAnswer(
  endpoint: string,
  name: 'network_error' | 'timeout' | 'malformed_response',
  detail: string,
  secrets: readonly string[],
  httpStatus?: number,
): GraphApiError {
  const reasons = {
    network_error: 'The connection to the Graph API failed or dropped before an answer arrived; retry (the change may or may not have been applied).',
    timeout: 'The Graph API did not answer in time; retry (the change may or may not have been applied).',
    malformed_response: 'The Graph API answered with a body that is not what Meta documents; retry.',
  } as const;
  return new GraphApiError({
    kind: 'retryable',
    name,
    reason: `${reasons[name]} (${redactSensitiveText(detail, secrets)})`,
    endpoint,
    ...(httpStatus !== undefined ? { httpStatus } : {}),
  });
}

function describe(details: GraphApiErrorDetails): string {
  const facts = [
    details.code !== undefined ? `code ${details.code}${details.subcode !== undefined ? `/${details.subcode}` : ''}` : undefined,
    details.type,
    details.httpStatus !== undefined ? `HTTP ${details.httpStatus}` : undefined,
    details.fbtraceId !== undefined ? `fbtrace_id ${details.fbtraceId}` : undefined,
  ].filter((fact): fact is string => fact !== undefined);
  const said = details.metaMessage ? ` Meta said: "${details.metaMessage}"` : '';
  return `${details.endpoint}: ${details.reason}${facts.length > 0 ? ` [${facts.join(', ')}]` : ''}${said}`;
}
