import formbody from '@fastify/formbody';
import fastify, { type FastifyError, type FastifyRequest } from 'fastify';
import type { CallLogEntry } from './call-log';
import { Pool } from 'pg';
import { survivingLostConnections } from '../db/pool';
import { z } from 'zod';
import { registerAdminRoutes } from './admin-routes';
import { EmulatorContext } from './emulator-context';
import { faultRuleSchema, type FaultRule } from './fault-rules';
import { GraphErrorResponse, invalidParameter } from './graph-error-response';
import { registerGraphRoutes } from './graph-routes';
import { seededRandom } from './seeded-random';
import { createStoreSchema, DEFAULT_EMULATOR_SCHEMA } from './store-schema';

export interface EmulatorOptions {
  databaseUrl: string;
  /** PostgreSQL schema holding the emulator's state; several emulators can share a database under different schemas. */
  schema?: string;
  host?: string;
  /** 0 picks a free port. */
  port?: number;
  /** Added to every Graph call (not to admin calls). */
  latencyMs?: number;
  faults?: FaultRule[];
  /** Makes fault rates reproducible. */
  faultSeed?: number;
  /** Per ad account, over a rolling window; refused calls answer 80003/2446079. */
  throttle?: { maxCallsPerWindow: number; windowMs: number };
  /** Removals leaving fewer rows answer 200/1870047; 0 turns the check off. */
  minAudienceRows?: number;
  /** How long a usersreplace session takes batches after its first; Meta's is 90 minutes. */
  replaceWindowMs?: number;
  /** When set, only this token is valid; otherwise any token that is not revoked is. */
  requiredToken?: string;
  /**
   * Keep only each row's key, not its contents: Meta's set semantics and row counts hold, but the rows cannot be
   * listed, nor counted by country for a lookalike. For benchmarks of large audiences, where Meta's copy of them
   * (about 0.9 kB a row as JSON text) would otherwise crowd audience-sync's own tables out of the machine's memory.
   */
  rowKeysOnly?: boolean;
}

export interface RunningEmulator {
  url: string;
  port: number;
  close(): Promise<void>;
}

export { DEFAULT_EMULATOR_SCHEMA };
export const DEFAULT_EMULATOR_PORT = 4010;
/** A 10,000-row multi-key payload is up to ~10 MB of JSON; twice that leaves room. */
const BODY_LIMIT_BYTES = 20 * 1024 * 1024;
const POOL_SIZE = 10;
/** Meta closes a replace session 90 minutes after its first batch (reference §4). */
const REPLACE_WINDOW_MS = 90 * 60 * 1000;

const optionsSchema = z.object({
  databaseUrl: z.string().min(1),
  schema: z.string().default(DEFAULT_EMULATOR_SCHEMA),
  host: z.string().default('127.0.0.1'),
  port: z.number().int().min(0).max(65_535).default(DEFAULT_EMULATOR_PORT),
  latencyMs: z.number().int().min(0).default(0),
  faults: z.array(faultRuleSchema).default([]),
  faultSeed: z.number().int().optional(),
  throttle: z.object({ maxCallsPerWindow: z.number().int().positive(), windowMs: z.number().int().positive() }).optional(),
  minAudienceRows: z.number().int().min(0).default(0),
  replaceWindowMs: z.number().int().positive().default(REPLACE_WINDOW_MS),
  requiredToken: z.string().min(1).optional(),
  rowKeysOnly: z.boolean().default(false),
});

/** Starts a Graph API emulator whose state lives in PostgreSQL, creating its schema if needed. */
export async function startEmulator(options: EmulatorOptions): Promise<RunningEmulator> {
  const config = optionsSchema.parse(options);
  // An upload's rows are sorted by key before they are stored (see AudienceStore): 10,000 rows of JSON text need
  // more than PostgreSQL's default 4 MB to sort in memory rather than on disk.
  const pool = survivingLostConnections(
    new Pool({
      connectionString: config.databaseUrl,
      max: POOL_SIZE,
      options: '-c work_mem=32MB',
      application_name: 'graph-emulator',
    }),
  );
  const app = fastify({
    bodyLimit: BODY_LIMIT_BYTES,
    logger: false,
    forceCloseConnections: true,
    // Parameters are read by name and validated, never merged into an object whose prototype matters, so the
    // emulator skips scanning every upload (megabytes of hashes) for "__proto__" and "constructor".
    onProtoPoisoning: 'ignore',
    onConstructorPoisoning: 'ignore',
  });
  const context = new EmulatorContext(
    pool,
    config.schema,
    {
      latencyMs: config.latencyMs,
      throttle: config.throttle,
      minAudienceRows: config.minAudienceRows,
      replaceWindowMs: config.replaceWindowMs,
    },
    config.requiredToken,
    config.faultSeed === undefined ? Math.random : seededRandom(config.faultSeed),
    config.rowKeysOnly,
  );
  try {
    await createStoreSchema(pool, config.schema);
    await context.access.load();
    context.faults.add(config.faults, Date.now());
    await app.register(formbody);
    app.setErrorHandler((error: FastifyError, request, reply) => {
      const graphError = error instanceof GraphErrorResponse ? error : frameworkError(error);
      if (!request.url.startsWith('/_emulator/')) context.calls.record(unparsedCallEntry(request, graphError));
      void reply.code(graphError.httpStatus).headers(graphError.headers).send(graphError.envelope());
    });
    app.setNotFoundHandler((request, reply) => {
      const error = invalidParameter(`Unsupported ${request.method.toLowerCase()} request.`);
      void reply.code(error.httpStatus).send(error.envelope());
    });
    registerAdminRoutes(app, context);
    registerGraphRoutes(app, context);
    await app.listen({ host: config.host, port: config.port });
  } catch (error) {
    await app.close();
    await pool.end();
    throw error;
  }

  const address = app.server.address();
  const port = typeof address === 'object' && address !== null ? address.port : config.port;
  return {
    url: `http://${config.host.includes(':') ? `[${config.host}]` : config.host}:${port}`,
    port,
    close: async () => {
      context.shutDown();
      await app.close();
      await pool.end();
    },
  };
}

/** Fixed texts, because a JSON parser's message quotes the body, which holds tokens and rows. */
const FRAMEWORK_ERROR_TEXTS: Readonly<Record<string, string>> = {
  FST_ERR_CTP_BODY_TOO_LARGE: `The request body is larger than ${BODY_LIMIT_BYTES} bytes`,
  FST_ERR_CTP_INVALID_MEDIA_TYPE: 'Unsupported content type: send application/json or application/x-www-form-urlencoded',
  FST_ERR_CTP_EMPTY_JSON_BODY: 'The request body is empty although its content type is application/json',
};

/** A Graph call refused before routing, for the call log. */
function unparsedCallEntry(request: FastifyRequest, error: GraphErrorResponse): Omit<CallLogEntry, 'seq'> {
  return {
    at: Date.now(),
    method: request.method,
    path: request.url.split('?')[0] ?? '/',
    adAccountId: null,
    audienceId: null,
    status: error.httpStatus,
    code: error.code,
    subcode: error.subcode ?? null,
    rows: 0,
  };
}

/** Failures before a route handler runs, answered in Meta's envelope like everything else. */
function frameworkError(error: FastifyError): GraphErrorResponse {
  const status = error.statusCode !== undefined && error.statusCode >= 400 ? error.statusCode : 500;
  if (status >= 500) return new GraphErrorResponse(2, undefined, { httpStatus: status });
  const text = FRAMEWORK_ERROR_TEXTS[error.code] ?? 'The request body could not be parsed';
  return new GraphErrorResponse(100, undefined, { message: `(#100) ${text}`, httpStatus: status });
}
