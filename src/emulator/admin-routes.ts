import { Readable } from 'node:stream';
import type { FastifyInstance, FastifyReply } from 'fastify';
import { z } from 'zod';
import { ROW_KEYS_ONLY, type AudienceStore } from './audience-store';
import type { EmulatorContext } from './emulator-context';
import { faultRuleSchema, type ActiveFault } from './fault-rules';
import { GraphErrorResponse } from './graph-error-response';

/**
 * The emulator's own API under /_emulator/: inspect what Meta would hold, inject faults, change access and
 * settings. Not part of Meta's contract, so no token, latency or faults apply; errors still use Meta's envelope.
 */

const tokenBodySchema = z.object({ token: z.string().min(1) }).strict();
const termsBodySchema = z.object({ accepted: z.boolean() }).strict();
const faultsBodySchema = z.union([faultRuleSchema, z.array(faultRuleSchema)]);
const settingsBodySchema = z
  .object({
    latencyMs: z.number().int().min(0),
    throttle: z.object({ maxCallsPerWindow: z.number().int().positive(), windowMs: z.number().int().positive() }).strict().nullable(),
    minAudienceRows: z.number().int().min(0),
    replaceWindowMs: z.number().int().positive(),
  })
  .partial()
  .strict();
const audienceIdSchema = z.object({ id: z.string().regex(/^\d+$/) });
const statusSchema = z.object({ code: z.number().int(), description: z.string() }).strict();
/** null takes a field back to the emulator's own answer. */
const statusOverrideSchema = z
  .object({
    approximate_count: z.object({ lower: z.number().int().min(-1), upper: z.number().int().min(-1) }).strict().nullable(),
    delivery_status: statusSchema.nullable(),
    operation_status: statusSchema.nullable(),
  })
  .partial()
  .strict();
const adAccountParamsSchema = z.object({ adAccountId: z.string().regex(/^(act_)?\d+$/) });
const callsQuerySchema = z.object({ since: z.coerce.number().int().min(0).default(0) });

export function registerAdminRoutes(app: FastifyInstance, context: EmulatorContext): void {
  app.get('/_emulator/health', async () => ({ status: 'ok' }));

  app.get('/_emulator/audiences', async () => {
    const audiences = await context.store.listAllAudiences();
    return audiences.map((audience) => ({
      id: audience.id,
      name: audience.name,
      ad_account_id: `act_${audience.adAccountId}`,
      subtype: audience.subtype,
      is_value_based: audience.isValueBased,
      origin_audience_id: audience.lookalike?.originAudienceId ?? null,
      lookalike_spec: audience.lookalike && { ratio: audience.lookalike.ratio, country: audience.lookalike.country },
      row_count: audience.rowCount,
      description: audience.description,
      deleted: audience.deletedAt !== null,
    }));
  });

  app.get('/_emulator/audiences/:id/rows', async (request, reply) => {
    const { id } = parse(audienceIdSchema, request.params);
    const audience = await context.audience(id);
    if (!audience) return notFound(reply, `No audience with id ${id}`);
    if (context.store.rowKeysOnly) {
      const error = new GraphErrorResponse(100, undefined, { message: ROW_KEYS_ONLY('list rows'), httpStatus: 409 });
      return reply.code(409).send(error.envelope());
    }
    // Streamed: a benchmark audience holds millions of rows, more than fits in one string.
    return reply.type('application/json').send(Readable.from(rowsDocument(context.store, id, audience.uploadSchema ?? [])));
  });

  /** Sets what Meta reports of an audience (its size range, delivery and operation status), as tests need. */
  app.patch('/_emulator/audiences/:id', async (request, reply) => {
    const { id } = parse(audienceIdSchema, request.params);
    if (!(await context.store.findAudience(id))) return notFound(reply, `No audience with id ${id}`);
    const changes = parse(statusOverrideSchema, request.body);
    const override = { ...context.statusOverrides.get(id) };
    if (changes.approximate_count !== undefined) override.approximateCount = changes.approximate_count ?? undefined;
    if (changes.delivery_status !== undefined) override.deliveryStatus = changes.delivery_status ?? undefined;
    if (changes.operation_status !== undefined) override.operationStatus = changes.operation_status ?? undefined;
    context.statusOverrides.set(id, override);
    return { success: true };
  });

  /** Deletes an audience the way Meta does on its own (expiry, a person in Ads Manager): later calls get 100/33. */
  app.delete('/_emulator/audiences/:id', async (request, reply) => {
    const { id } = parse(audienceIdSchema, request.params);
    const audience = await context.store.findAudience(id);
    if (!audience) return notFound(reply, `No audience with id ${id}`);
    await context.store.deleteAudience(id);
    return { success: true };
  });

  app.get('/_emulator/faults', async () => context.faults.list(Date.now()).map(faultView));

  app.post('/_emulator/faults', async (request, reply) => {
    const body = parse(faultsBodySchema, request.body);
    const added = context.faults.add(Array.isArray(body) ? body : [body], Date.now());
    return reply.code(201).send(added.map(faultView));
  });

  app.delete('/_emulator/faults', async () => {
    context.faults.clear();
    return { success: true };
  });

  app.delete('/_emulator/faults/:id', async (request, reply) => {
    const { id } = parse(z.object({ id: z.coerce.number().int() }), request.params);
    return context.faults.remove(id) ? { success: true } : notFound(reply, `No fault rule with id ${id}`);
  });

  app.post('/_emulator/tokens/revoke', async (request) => {
    await context.access.setTokenRevoked(parse(tokenBodySchema, request.body).token, true);
    return { success: true };
  });

  app.post('/_emulator/tokens/restore', async (request) => {
    await context.access.setTokenRevoked(parse(tokenBodySchema, request.body).token, false);
    return { success: true };
  });

  app.post('/_emulator/ad-accounts/:adAccountId/terms', async (request) => {
    const { adAccountId } = parse(adAccountParamsSchema, request.params);
    const { accepted } = parse(termsBodySchema, request.body);
    await context.access.setTermsAccepted(adAccountId.replace(/^act_/, ''), accepted);
    return { success: true };
  });

  app.get('/_emulator/calls', async (request) => context.calls.since(parse(callsQuerySchema, request.query).since));

  app.get('/_emulator/settings', async () => settingsView(context));

  app.patch('/_emulator/settings', async (request) => {
    const changes = parse(settingsBodySchema, request.body);
    context.settings = {
      latencyMs: changes.latencyMs ?? context.settings.latencyMs,
      throttle: changes.throttle === undefined ? context.settings.throttle : (changes.throttle ?? undefined),
      minAudienceRows: changes.minAudienceRows ?? context.settings.minAudienceRows,
      replaceWindowMs: changes.replaceWindowMs ?? context.settings.replaceWindowMs,
    };
    return settingsView(context);
  });

  app.post('/_emulator/reset', async () => {
    await context.reset();
    return { success: true };
  });

  app.all('/_emulator/*', async (request, reply) => notFound(reply, `No emulator admin endpoint ${request.method} ${request.url}`));
}

async function* rowsDocument(store: AudienceStore, id: string, schema: readonly string[]): AsyncGenerator<string> {
  yield `{"schema":${JSON.stringify(schema)},"rows":[`;
  let first = true;
  for await (const page of store.readRows(id)) {
    yield `${first ? '' : ','}${page.join(',')}`;
    first = false;
  }
  yield ']}';
}

function faultView(active: ActiveFault): Record<string, unknown> {
  return { id: active.id, ...active.rule, addedAt: active.addedAt, fired: active.fired };
}

function settingsView(context: EmulatorContext): Record<string, unknown> {
  return { ...context.settings, throttle: context.settings.throttle ?? null };
}

function parse<Schema extends z.ZodType>(schema: Schema, value: unknown): z.output<Schema> {
  const parsed = schema.safeParse(value);
  if (parsed.success) return parsed.data;
  const issue = parsed.error.issues[0];
  const where = issue && issue.path.length > 0 ? `${issue.path.join('.')}: ` : '';
  throw new GraphErrorResponse(100, undefined, { message: `(#100) ${where}${issue?.message ?? 'invalid request'}` });
}

function notFound(reply: FastifyReply, message: string): FastifyReply {
  const error = new GraphErrorResponse(100, undefined, { message, httpStatus: 404 });
  return reply.code(404).send(error.envelope());
}
