import { request as httpRequest } from 'undici';
import type { z } from 'zod';
import { adAccountDigits, toAdAccountNode } from './ad-account-id';
import { GraphApiError, graphApiErrorFromResponse, graphApiErrorWithoutAnswer } from './graph-error';
import type { GraphErrorKind } from './error-classification';
import type { MetaRequestOutcome } from '../metrics/metric-catalog';
import {
  createdObjectSchema,
  errorEnvelopeSchema,
  graphObjectSchema,
  listPageSchema,
  operationStatusCode,
  successSchema,
  termsOfServiceSchema,
  usersResponseSchema,
} from './graph-responses';
import { hasUsage, parseUsageHeaders, retryAfterMsFromUsage, type GraphUsage, type HeaderSource } from './usage-headers';
import { buildUsersRequestBody, type UploadSession, type UsersBatch } from './users-payload';
import { BodyBuffers } from './body-buffers';

export interface GraphClientOptions {
  /** e.g. https://graph.facebook.com, or the emulator's http://127.0.0.1:4010 */
  baseUrl: string;
  /** e.g. v27.0; Marketing API calls without a version are invalid (reference §0). */
  apiVersion: string;
  accessToken: string;
  /** Per request; a 10,000-row DELETE can take a while at Meta. */
  timeoutMs?: number;
  /** Called with the usage headers of every answer that carries them, so callers can pace before Meta refuses. */
  onUsage?: (usage: GraphUsage) => void;
  /** Called once per request with what it did (e.g. add_users) and how it ended, for the metrics. */
  onRequest?: (operation: string, outcome: MetaRequestOutcome) => void;
}

export type CustomerFileSource = 'USER_PROVIDED_ONLY' | 'PARTNER_PROVIDED_ONLY' | 'BOTH_USER_AND_PARTNER_PROVIDED';

export interface UsersResponse {
  audienceId: string;
  sessionId: string | number;
  /** Rows received so far in the upload session. */
  numReceived: number;
  /** Invalid rows so far in the session; Meta calls it a range indicator, not an exact number. */
  numInvalidEntries: number;
  /** Samples from this request; may contain the offending values, so never log it. */
  invalidEntrySamples: Record<string, unknown>;
}

export const DEFAULT_TIMEOUT_MS = 120_000;
const LIST_PAGE_SIZE = 100;
const API_VERSION = /^v\d+\.\d+$/;
const OBJECT_ID = /^\d+$/;

type HttpMethod = 'GET' | 'POST' | 'DELETE';

interface GraphRequest {
  method: HttpMethod;
  /** Path below the version, e.g. /act_1/customaudiences */
  path: string;
  /** Query string for GET, form body for POST and DELETE. */
  params?: Record<string, string>;
  /** A ready JSON body (already holding the token) instead of form params. */
  jsonBody?: Buffer;
  /** The ad account the call spends quota of, to pick its entry in the usage headers. */
  adAccountDigits?: string;
}

/**
 * A thin client for the Custom Audience endpoints of Meta's Graph API. It does not retry: every failure is
 * thrown as a classified GraphApiError and the caller (a Temporal activity) owns the retry policy.
 */
export class GraphClient {
  private readonly baseUrl: string;
  private readonly apiVersion: string;
  private readonly accessToken: string;
  private readonly timeoutMs: number;
  private readonly onUsage: ((usage: GraphUsage) => void) | undefined;
  private readonly onRequest: GraphClientOptions['onRequest'];
  private readonly bodyBuffers = new BodyBuffers();

  constructor(options: GraphClientOptions) {
    if (!API_VERSION.test(options.apiVersion)) {
      throw new RangeError(`Graph API version must look like v27.0, got "${options.apiVersion}"`);
    }
    if (options.accessToken.length === 0) throw new RangeError('A Graph API access token is required');
    this.baseUrl = new URL(options.baseUrl).toString().replace(/\/+$/, '');
    this.apiVersion = options.apiVersion;
    this.accessToken = options.accessToken;
    this.timeoutMs = options.timeoutMs ?? DEFAULT_TIMEOUT_MS;
    this.onUsage = options.onUsage;
    this.onRequest = options.onRequest;
  }

  async createCustomAudience(
    adAccountId: string,
    params: { name: string; description: string; customerFileSource: CustomerFileSource; isValueBased?: boolean },
  ): Promise<{ id: string }> {
    return this.createAudience(adAccountId, {
      name: params.name,
      description: params.description,
      subtype: 'CUSTOM',
      customer_file_source: params.customerFileSource,
      ...(params.isValueBased ? { is_value_based: '1' } : {}),
    });
  }

  /**
   * A lookalike of `originAudienceId` (reference §6): the `ratio` (0.01 to 0.10) of `country`'s people most like
   * the seed.
   */
  async createLookalike(
    adAccountId: string,
    params: { name: string; description: string; originAudienceId: string; ratio: number; country: string },
  ): Promise<{ id: string }> {
    return this.createAudience(adAccountId, {
      name: params.name,
      description: params.description,
      subtype: 'LOOKALIKE',
      origin_audience_id: objectId(params.originAudienceId),
      lookalike_spec: JSON.stringify({ type: 'custom_ratio', ratio: params.ratio, country: params.country }),
    });
  }

  private async createAudience(adAccountId: string, params: Record<string, string>): Promise<{ id: string }> {
    return this.request(
      {
        method: 'POST',
        path: `/${toAdAccountNode(adAccountId)}/customaudiences`,
        params,
        adAccountDigits: adAccountDigits(adAccountId),
      },
      createdObjectSchema,
    );
  }

  /** Every audience of the account (Meta pages with cursors; this follows them to the end). */
  async listCustomAudiences(adAccountId: string, fields: string[]): Promise<Array<Record<string, unknown>>> {
    const audiences: Array<Record<string, unknown>> = [];
    let after: string | undefined;
    for (;;) {
      const page = await this.request(
        {
          method: 'GET',
          path: `/${toAdAccountNode(adAccountId)}/customaudiences`,
          params: { fields: fields.join(','), limit: String(LIST_PAGE_SIZE), ...(after ? { after } : {}) },
          adAccountDigits: adAccountDigits(adAccountId),
        },
        listPageSchema,
      );
      audiences.push(...page.data);
      const nextCursor = page.paging?.cursors?.after;
      if (!page.paging?.next || !nextCursor) return audiences;
      if (nextCursor === after) {
        throw graphApiErrorWithoutAnswer(
          `GET /${this.apiVersion}/${toAdAccountNode(adAccountId)}/customaudiences`,
          'malformed_response',
          'the paging cursor did not advance',
          [this.accessToken],
        );
      }
      after = nextCursor;
    }
  }

  async getCustomAudience(audienceId: string, fields: string[]): Promise<Record<string, unknown>> {
    return this.request(
      { method: 'GET', path: `/${objectId(audienceId)}`, params: { fields: fields.join(',') } },
      graphObjectSchema,
    );
  }

  async renameCustomAudience(audienceId: string, name: string): Promise<void> {
    await this.requestSuccess({ method: 'POST', path: `/${objectId(audienceId)}`, params: { name } });
  }

  async deleteCustomAudience(audienceId: string): Promise<void> {
    await this.requestSuccess({ method: 'DELETE', path: `/${objectId(audienceId)}` });
  }

  async addUsers(audienceId: string, batch: UsersBatch, session?: UploadSession): Promise<UsersResponse> {
    return this.sendUsers('POST', audienceId, batch, session);
  }

  /** A real HTTP DELETE: the `method=DELETE` override is frozen for new apps since v27 (reference §0). */
  async removeUsers(audienceId: string, batch: UsersBatch, session?: UploadSession): Promise<UsersResponse> {
    return this.sendUsers('DELETE', audienceId, batch, session);
  }

  /**
   * One batch of a usersreplace session (reference §4): batch 1 starts the session, the batch with `lastBatch`
   * swaps the audience's membership for everything the session received.
   */
  async replaceUsers(audienceId: string, batch: UsersBatch, session: UploadSession): Promise<UsersResponse> {
    return this.sendUsers('POST', audienceId, batch, session, '/usersreplace');
  }

  /** The audience's `operation_status` code (reference §2.4): 414 while a replace runs. */
  async getOperationStatus(audienceId: string): Promise<number> {
    const audience = await this.request(
      { method: 'GET', path: `/${objectId(audienceId)}`, params: { fields: 'operation_status' } },
      graphObjectSchema,
    );
    return operationStatusCode(audience) ?? 0;
  }

  /** Whether the business accepted the Custom Audience Terms for this ad account (reference §1). */
  async getAdAccountTermsAccepted(adAccountId: string): Promise<boolean> {
    const account = await this.request(
      {
        method: 'GET',
        path: `/${toAdAccountNode(adAccountId)}`,
        params: { fields: 'tos_accepted' },
        adAccountDigits: adAccountDigits(adAccountId),
      },
      termsOfServiceSchema,
    );
    return Number(account.tos_accepted?.['custom_audience_tos']) === 1;
  }

  private async sendUsers(
    method: 'POST' | 'DELETE',
    audienceId: string,
    batch: UsersBatch,
    session: UploadSession | undefined,
    edge: '/users' | '/usersreplace' = '/users',
  ): Promise<UsersResponse> {
    const answer = await this.bodyBuffers.lend((allocate) =>
      this.request(
        {
          method,
          path: `/${objectId(audienceId)}${edge}`,
          jsonBody: buildUsersRequestBody(batch, session, this.accessToken, allocate),
        },
        usersResponseSchema,
      ),
    );
    return {
      audienceId: answer.audience_id ?? audienceId,
      sessionId: answer.session_id,
      numReceived: answer.num_received,
      numInvalidEntries: answer.num_invalid_entries,
      invalidEntrySamples: answer.invalid_entry_samples ?? {},
    };
  }

  private async requestSuccess(request: GraphRequest): Promise<void> {
    const answer = await this.request(request, successSchema);
    if (!answer.success) {
      // Meta answered without an error yet did not confirm; the change's state is unknown, and these writes are idempotent.
      throw graphApiErrorWithoutAnswer(this.endpoint(request), 'malformed_response', 'Meta answered success=false', []);
    }
  }

  private endpoint(request: GraphRequest): string {
    return `${request.method} /${this.apiVersion}${request.path}`;
  }

  private async request<Schema extends z.ZodType>(request: GraphRequest, schema: Schema): Promise<z.output<Schema>> {
    if (!this.onRequest) return this.send(request, schema);
    try {
      const answer = await this.send(request, schema);
      this.onRequest(operationOf(request), 'ok');
      return answer;
    } catch (error) {
      this.onRequest(operationOf(request), error instanceof GraphApiError ? REQUEST_OUTCOMES[error.kind] : 'transient');
      throw error;
    }
  }

  private async send<Schema extends z.ZodType>(request: GraphRequest, schema: Schema): Promise<z.output<Schema>> {
    const endpoint = this.endpoint(request);
    const secrets = [this.accessToken];
    const url = new URL(`${this.baseUrl}/${this.apiVersion}${request.path}`);
    // undici's request rather than fetch: fetch copies a body, and a /users body is megabytes, held for the
    // whole call by every upload in flight.
    let headers: Record<string, string> | undefined;
    let body: Buffer | string | undefined;
    if (request.method === 'GET') {
      for (const [key, value] of Object.entries(request.params ?? {})) url.searchParams.set(key, value);
      url.searchParams.set('access_token', this.accessToken);
    } else if (request.jsonBody !== undefined) {
      headers = { 'content-type': 'application/json' };
      body = request.jsonBody;
    } else {
      headers = { 'content-type': 'application/x-www-form-urlencoded' };
      body = new URLSearchParams({ ...request.params, access_token: this.accessToken }).toString();
    }

    let response: Awaited<ReturnType<typeof httpRequest>>;
    let text: string;
    try {
      response = await httpRequest(url, { method: request.method, headers, body, signal: AbortSignal.timeout(this.timeoutMs) });
      text = await response.body.text();
    } catch (error) {
      throw graphApiErrorWithoutAnswer(endpoint, isTimeout(error) ? 'timeout' : 'network_error', describeFailure(error), secrets);
    }

    const usage = parseUsageHeaders(headerSource(response.headers));
    if (this.onUsage && hasUsage(usage)) this.onUsage(usage);

    const json = parseJson(text);
    const envelope = errorEnvelopeSchema.safeParse(json);
    if (response.statusCode < 200 || response.statusCode > 299 || envelope.success) {
      throw graphApiErrorFromResponse({
        endpoint,
        httpStatus: response.statusCode,
        body: envelope.success ? envelope.data.error : undefined,
        headerRetryAfterMs: retryAfterMsFromUsage(usage, request.adAccountDigits),
        secrets,
      });
    }
    const parsed = schema.safeParse(json);
    if (!parsed.success) {
      throw graphApiErrorWithoutAnswer(endpoint, 'malformed_response', 'the answer did not have the documented shape', secrets, response.statusCode);
    }
    return parsed.data;
  }
}

const REQUEST_OUTCOMES: Record<GraphErrorKind, MetaRequestOutcome> = {
  throttled: 'throttled',
  retryable: 'transient',
  needs_person: 'permanent',
  audience_gone: 'permanent',
  invalid_request: 'permanent',
};

/** What a request does, without ids: the metrics' `operation` label. */
function operationOf(request: GraphRequest): string {
  const [, node = '', edge] = request.path.split('/');
  if (node.startsWith('act_')) {
    if (edge !== 'customaudiences') return 'read_ad_account';
    return request.method === 'GET' ? 'list_audiences' : 'create_audience';
  }
  if (edge === 'users') return request.method === 'DELETE' ? 'remove_users' : 'add_users';
  if (edge === 'usersreplace') return 'replace_users';
  return { GET: 'read_audience', POST: 'update_audience', DELETE: 'delete_audience' }[request.method];
}

/** Ids go into the URL path, so only digits are let through. */
function objectId(id: string): string {
  if (!OBJECT_ID.test(id)) throw new RangeError(`Not a Graph object id: "${id}"`);
  return id;
}

/** undici names headers in lower case and gives a repeated header as an array. */
function headerSource(headers: Record<string, string | string[] | undefined>): HeaderSource {
  return {
    get: (name) => {
      const value = headers[name.toLowerCase()];
      return value === undefined ? null : Array.isArray(value) ? value.join(', ') : value;
    },
  };
}

function parseJson(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    return undefined;
  }
}

interface ErrorLike {
  name?: unknown;
  message?: unknown;
  code?: unknown;
  cause?: unknown;
}

/** Duck-typed: a timeout's DOMException and undici's errors may come from another realm, where instanceof fails. */
function asErrorLike(value: unknown): ErrorLike | undefined {
  return typeof value === 'object' && value !== null ? (value as ErrorLike) : undefined;
}

function isTimeout(error: unknown): boolean {
  const name = asErrorLike(error)?.name;
  return name === 'TimeoutError' || name === 'AbortError';
}

/** An error may hide the useful part (ECONNRESET, "other side closed") in `cause`. */
function describeFailure(error: unknown): string {
  const failure = asErrorLike(error);
  if (!failure) return String(error);
  const cause = asErrorLike(failure.cause);
  const described = cause ?? failure;
  const code = typeof described.code === 'string' ? `${described.code}: ` : '';
  return `${code}${String(described.message ?? described.name ?? 'unknown failure')}`;
}
