import { STATUS_CODES } from 'node:http';
import { setTimeout as sleep } from 'node:timers/promises';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { usageHeaders } from './account-throttle';
import { assertSupportedVersion } from './api-versions';
import {
  createAudience,
  deleteAudience,
  listAudiences,
  readAdAccount,
  readAudience,
  updateAudience,
  type GraphAnswer,
  type GraphCall,
} from './audience-endpoints';
import type { AudienceRecord } from './audience-store';
import type { CallLogEntry } from './call-log';
import type { EmulatorContext } from './emulator-context';
import type { ActiveFault, CallTarget } from './fault-rules';
import {
  GraphErrorResponse,
  RATE_LIMIT_DEFAULT_SUBCODES,
  invalidParameter,
  isRateLimitCode,
  objectNotFound,
  unknownPath,
} from './graph-error-response';
import { changeAudienceUsers, replaceAudienceUsers } from './users-endpoint';

/** What a path addresses: an ad account, or an object id (which may not exist). */
type GraphNode =
  | { kind: 'ad_account'; adAccountId: string; edge: string | undefined }
  | { kind: 'object'; objectId: string; audience: AudienceRecord | undefined; edge: string | undefined };

const AD_ACCOUNT_NODE = /^act_(\d+)$/;
/** A throttling fault reports a quota fully used. */
const EXHAUSTED_USAGE_PCT = 100;
const DEFAULT_FAULT_WAIT_MINUTES = 1;
const DEFAULT_5XX_STATUS = 503;

/**
 * Every path outside /_emulator/ is a Graph call. Each goes through the same steps, in the order Meta's front
 * end would apply them: latency, version, faults, token, rate limit, then the endpoint itself.
 */
export function registerGraphRoutes(app: FastifyInstance, context: EmulatorContext): void {
  app.route({
    method: ['GET', 'POST', 'DELETE'],
    url: '/*',
    handler: (request, reply) => handleGraphCall(context, request, reply),
  });
}

async function handleGraphCall(context: EmulatorContext, request: FastifyRequest, reply: FastifyReply): Promise<void> {
  const path = request.url.split('?')[0] ?? '/';
  const log: Omit<CallLogEntry, 'seq'> = {
    at: Date.now(),
    method: request.method,
    path,
    adAccountId: null,
    audienceId: null,
    status: null,
    code: null,
    subcode: null,
    rows: 0,
  };
  try {
    if (context.settings.latencyMs > 0) await sleep(context.settings.latencyMs, undefined, { signal: context.shutdownSignal });
    const segments = path.split('/').filter((segment) => segment !== '');
    assertSupportedVersion(segments[0], path);
    const node = await resolveNode(context, segments.slice(1), path);
    const adAccountId = node.kind === 'ad_account' ? node.adAccountId : node.audience?.adAccountId;
    log.adAccountId = adAccountId === undefined ? null : `act_${adAccountId}`;
    log.audienceId = node.kind === 'object' ? node.objectId : null;

    const fault = await injectFault(context, { method: request.method, path, adAccountId, audienceId: log.audienceId ?? undefined }, log);
    if (fault?.rule.fault === 'http_5xx') {
      log.status = fault.rule.httpStatus ?? DEFAULT_5XX_STATUS;
      await reply.code(log.status).type('text/plain').send(STATUS_CODES[log.status] ?? 'Server Error');
      return;
    }
    const dropAfterChange = fault?.rule.fault === 'drop_connection' && fault.rule.drop === 'after';
    if (fault?.rule.fault === 'drop_connection' && !dropAfterChange) return dropConnection(request, reply);

    const call: GraphCall = {
      method: request.method,
      path,
      params: callParameters(request),
      origin: `${request.protocol}://${request.host}`,
    };
    context.access.assertUsableToken(accessToken(request, call.params));
    if (adAccountId !== undefined) admitWithinRateLimit(context, adAccountId, reply);

    const answer = await answerCall(context, node, call);
    log.rows = answer.rows;
    if (dropAfterChange) return dropConnection(request, reply);
    log.status = 200;
    await reply.code(200).send(answer.body);
  } catch (error) {
    const graphError = asGraphError(error, context.shutdownSignal.aborted);
    log.status = graphError.httpStatus;
    log.code = graphError.code;
    log.subcode = graphError.subcode ?? null;
    await reply.code(graphError.httpStatus).headers(graphError.headers).send(graphError.envelope());
  } finally {
    context.calls.record(log);
  }
}

/**
 * Applies the fault rules that fire for this call: waits for slow ones and throws an error or throttle one.
 * Returns a fault the caller must act on (a bare 5xx or a dropped connection), if one fired.
 */
async function injectFault(
  context: EmulatorContext,
  target: CallTarget,
  log: Omit<CallLogEntry, 'seq'>,
): Promise<ActiveFault | undefined> {
  const { delayMs, fault } = context.faults.decide(target, Date.now());
  const labels = [delayMs > 0 ? 'slow' : undefined, fault && faultLabel(fault)].filter((label) => label !== undefined);
  if (labels.length > 0) log.fault = labels.join('+');
  if (delayMs > 0) await sleep(delayMs, undefined, { signal: context.shutdownSignal });
  if (fault?.rule.fault === 'error' || fault?.rule.fault === 'throttle') throw faultError(fault, target.adAccountId);
  return fault;
}

/** The per-account rolling window, when configured; its usage headers go on every answer, errors included. */
function admitWithinRateLimit(context: EmulatorContext, adAccountId: string, reply: FastifyReply): void {
  const settings = context.settings.throttle;
  if (!settings) return;
  const admission = context.throttle.admit(adAccountId, settings, Date.now());
  const headers = usageHeaders(adAccountId, admission.usage);
  if (!admission.admitted) throw new GraphErrorResponse(80003, 2446079, { headers });
  void reply.headers(headers);
}

async function resolveNode(context: EmulatorContext, segments: string[], path: string): Promise<GraphNode> {
  const [nodeSegment, edge, ...rest] = segments;
  if (nodeSegment === undefined || rest.length > 0) throw unknownPath(path);
  const adAccount = AD_ACCOUNT_NODE.exec(nodeSegment);
  if (adAccount) return { kind: 'ad_account', adAccountId: adAccount[1] as string, edge };
  return { kind: 'object', objectId: nodeSegment, audience: await context.audience(nodeSegment), edge };
}

function answerCall(context: EmulatorContext, node: GraphNode, call: GraphCall): Promise<GraphAnswer> | GraphAnswer {
  const route = `${call.method} ${node.edge ?? ''}`;
  if (node.kind === 'ad_account') {
    switch (route) {
      case 'GET ':
        return readAdAccount(context, node.adAccountId, call);
      case 'GET customaudiences':
        return listAudiences(context, node.adAccountId, call);
      case 'POST customaudiences':
        return createAudience(context, node.adAccountId, call);
      default:
        throw unsupported(node.edge, call);
    }
  }
  const audience = node.audience;
  if (!audience || audience.deletedAt !== null) throw objectNotFound(call.method, node.objectId);
  switch (route) {
    case 'GET ':
      return readAudience(context, audience, call);
    case 'POST ':
      return updateAudience(context, audience, call);
    case 'DELETE ':
      return deleteAudience(context, audience);
    case 'POST users':
    case 'DELETE users':
      return changeAudienceUsers(context, audience, call);
    case 'POST usersreplace':
      return replaceAudienceUsers(context, audience, call);
    default:
      throw unsupported(node.edge, call);
  }
}

const KNOWN_EDGES = new Set([undefined, 'customaudiences', 'users', 'usersreplace']);

function unsupported(edge: string | undefined, call: GraphCall): GraphErrorResponse {
  return KNOWN_EDGES.has(edge) ? invalidParameter(`Unsupported ${call.method.toLowerCase()} request.`) : unknownPath(call.path);
}

/** Graph reads parameters from the query string and, for writes, from a form or JSON body. */
function callParameters(request: FastifyRequest): Record<string, unknown> {
  const query = isPlainObject(request.query) ? request.query : {};
  if (request.method === 'GET') return query;
  return { ...query, ...(isPlainObject(request.body) ? request.body : {}) };
}

/** The access_token parameter, or an `Authorization: Bearer|OAuth <token>` header as Graph also accepts. */
function accessToken(request: FastifyRequest, params: Record<string, unknown>): string | undefined {
  const fromParams = params['access_token'];
  if (typeof fromParams === 'string') return fromParams;
  const authorization = /^(?:Bearer|OAuth)\s+(\S+)$/i.exec(request.headers.authorization ?? '');
  return authorization?.[1];
}

function faultError(fault: ActiveFault, adAccountId: string | undefined): GraphErrorResponse {
  const { rule } = fault;
  // An error rule always names its code (the schema requires it); a throttle rule defaults to the BUC limit.
  const code = rule.code ?? 80003;
  const subcode = rule.subcode ?? (rule.fault === 'throttle' ? RATE_LIMIT_DEFAULT_SUBCODES.get(code) : undefined);
  const minutes = rule.retryAfterMinutes ?? DEFAULT_FAULT_WAIT_MINUTES;
  const headers =
    isRateLimitCode(code) && adAccountId !== undefined
      ? usageHeaders(adAccountId, { callCountPct: EXHAUSTED_USAGE_PCT, minutesToRegainAccess: minutes, resetSeconds: minutes * 60 })
      : {};
  return new GraphErrorResponse(code, subcode, {
    headers,
    ...(rule.message !== undefined ? { message: rule.message } : {}),
    ...(rule.httpStatus !== undefined ? { httpStatus: rule.httpStatus } : {}),
  });
}

function faultLabel(fault: ActiveFault): string {
  return fault.rule.fault === 'drop_connection' ? `drop_connection:${fault.rule.drop ?? 'before'}` : fault.rule.fault;
}

/** Closes the socket without a response, which a client sees as a reset or "other side closed". */
function dropConnection(request: FastifyRequest, reply: FastifyReply): void {
  reply.hijack();
  request.raw.socket.destroy();
}

/**
 * A failure of the emulator itself (database down, shutting down) looks to a client like Meta's own
 * "unexpected error, retry". Only the error's class and text are written out, never parameters, which hold
 * tokens and rows.
 */
function asGraphError(error: unknown, shuttingDown: boolean): GraphErrorResponse {
  if (error instanceof GraphErrorResponse) return error;
  if (!shuttingDown) {
    const described = error instanceof Error ? `${error.name}: ${error.message}` : 'unknown failure';
    process.stderr.write(`[graph-emulator] internal error: ${described}\n`);
  }
  return new GraphErrorResponse(2);
}

function isPlainObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}
