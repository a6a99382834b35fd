import { z } from 'zod';
import { TASK_QUEUE } from '../workflows/audience-config';

/** Where audience-sync's own state lives when DATABASE_URL is not set: the machine's PostgreSQL. */
export const DEFAULT_DATABASE_URL = 'postgres://postgres@127.0.0.1:5432/postgres';

/**
 * Every environment variable audience-sync reads, validated once at start-up so that a bad value is one clear
 * line naming the variable instead of a failure deep inside a cycle.
 */
const environmentSchema = z.object({
  TEMPORAL_ADDRESS: z.string().min(1).default('127.0.0.1:7233'),
  TEMPORAL_NAMESPACE: z.string().min(1).default('default'),
  TEMPORAL_TASK_QUEUE: z.string().min(1).default(TASK_QUEUE),
  TEMPORAL_API_KEY: z.string().min(1).optional(),
  TEMPORAL_TLS_CERT_PATH: z.string().min(1).optional(),
  TEMPORAL_TLS_KEY_PATH: z.string().min(1).optional(),
  DATABASE_URL: z
    .string()
    .regex(/^postgres(ql)?:\/\//, 'must be a postgres:// URL')
    .default(DEFAULT_DATABASE_URL),
  SOURCE_DATABASE_URL: z
    .string()
    .regex(/^postgres(ql)?:\/\//, 'must be a postgres:// URL')
    .optional(),
  SOURCE_STATEMENT_TIMEOUT: z
    .string()
    .regex(/^\d+(ms|s|min|h)?$/, 'must be a PostgreSQL duration such as 15min or 300s')
    .default('30min'),
  SOURCE_ALLOW_PRIVILEGED_ROLE: z
    .enum(['true', 'false'], { message: 'must be true or false' })
    .default('false')
    .transform((value) => value === 'true'),
  FB_GRAPH_URL: z.string().url().default('https://graph.facebook.com'),
  FB_API_VERSION: z
    .string()
    .regex(/^v\d+\.0$/, 'must look like v27.0')
    .default('v27.0'),
  FB_ACCESS_TOKEN: z.string().min(1).optional(),
  UPLOAD_CONCURRENCY: z.coerce.number().int().min(1).max(32).default(4),
  HASH_THREADS: z.coerce.number().int().min(0).max(64).optional(),
  METRICS_ADDRESS: z
    .string()
    .regex(/^(\[[0-9a-fA-F:]+\]|[^\s:/]+):\d{1,5}$/, 'must be host:port, e.g. 0.0.0.0:9464')
    .optional(),
});

export type Environment = z.infer<typeof environmentSchema>;

export class ConfigurationError extends Error {
  override name = 'ConfigurationError';
}

export function readEnvironment(source: NodeJS.ProcessEnv = process.env): Environment {
  // An empty variable means "not set": shells and compose files often export VAR= for optional settings.
  const present = Object.fromEntries(Object.entries(source).filter(([, value]) => value !== undefined && value !== ''));
  const parsed = environmentSchema.safeParse(present);
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    throw new ConfigurationError(`Environment variable ${String(issue.path[0])} is invalid: ${issue.message}`);
  }
  return parsed.data;
}

/** The token is needed only by processes that call Meta (the worker); the CLI works without it. */
export function requireAccessToken(environment: Environment): string {
  if (!environment.FB_ACCESS_TOKEN) {
    throw new ConfigurationError(
      'Environment variable FB_ACCESS_TOKEN is not set: the worker needs a Meta access token with ads_management ' +
        '(or start the local stack with `npm start`, which runs the Graph API emulator).',
    );
  }
  return environment.FB_ACCESS_TOKEN;
}
