import { createHash } from 'node:crypto';
import { Pool } from 'pg';
import { GraphClient, type GraphApiError, type UsersBatch } from '../../src/facebook';
import { startEmulator, type EmulatorOptions, type RunningEmulator } from '../../src/emulator';
import { jsonText } from '../support/json-text';

export const DATABASE_URL = process.env['TEST_DATABASE_URL'] ?? 'postgres://postgres@127.0.0.1:5432/test';
export const API_VERSION = 'v27.0';
export const TOKEN = 'EAAtesttoken1234567890abcdefXYZ';
export const AD_ACCOUNT = 'act_1234567';

/** The multi-key schema the tests upload with. */
export const SCHEMA = ['EMAIL', 'PHONE', 'EXTERN_ID'] as const;

export function sha256(text: string): string {
  return createHash('sha256').update(text).digest('hex');
}

/** One row in SCHEMA order for a made-up person number n. */
export function personRow(n: number): string[] {
  return [sha256(`person${n}@example.com`), sha256(`1555000${String(n).padStart(4, '0')}`), `member-${n}`];
}

/** A /users batch of these rows, each serialized as Meta receives it. */
export function usersBatch(schema: readonly string[], rows: ReadonlyArray<readonly unknown[]>): UsersBatch {
  return { schema, rowCount: rows.length, rowsJson: jsonText(rows.map((row) => JSON.stringify(row)).join(',')) };
}

/**
 * One emulator per test file, in its own PostgreSQL schema that is dropped afterwards, so test files can run in
 * parallel against one database without seeing each other.
 */
export class EmulatorTestKit {
  emulator!: RunningEmulator;
  client!: GraphClient;
  readonly schema: string;
  private readonly pool = new Pool({ connectionString: DATABASE_URL, max: 2 });

  constructor(name: string) {
    this.schema = `graph_emulator_test_${name}_${process.pid}`;
  }

  async start(options: Partial<EmulatorOptions> = {}): Promise<void> {
    await this.pool.query(`DROP SCHEMA IF EXISTS "${this.schema}" CASCADE`);
    this.emulator = await startEmulator({ databaseUrl: DATABASE_URL, schema: this.schema, port: 0, ...options });
    this.client = this.clientWith();
  }

  /** Stops and starts the emulator on the same schema, as a restarted process would. */
  async restart(options: Partial<EmulatorOptions> = {}): Promise<void> {
    await this.emulator.close();
    this.emulator = await startEmulator({ databaseUrl: DATABASE_URL, schema: this.schema, port: 0, ...options });
    this.client = this.clientWith();
  }

  clientWith(overrides: Partial<ConstructorParameters<typeof GraphClient>[0]> = {}): GraphClient {
    return new GraphClient({ baseUrl: this.emulator.url, apiVersion: API_VERSION, accessToken: TOKEN, timeoutMs: 10_000, ...overrides });
  }

  async stop(): Promise<void> {
    await this.emulator?.close();
    await this.pool.query(`DROP SCHEMA IF EXISTS "${this.schema}" CASCADE`);
    await this.pool.end();
  }

  /** Calls the admin API; fails the test on an unexpected status. */
  async admin<T = unknown>(method: string, path: string, body?: unknown, expectedStatus = [200, 201]): Promise<T> {
    const response = await fetch(`${this.emulator.url}${path}`, {
      method,
      ...(body !== undefined ? { headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) } : {}),
    });
    const text = await response.text();
    if (!expectedStatus.includes(response.status)) {
      throw new Error(`${method} ${path} answered ${response.status}: ${text}`);
    }
    return JSON.parse(text) as T;
  }

  /** A raw Graph call, for checking what the emulator answers to requests the client would never send. */
  async raw(method: string, path: string, init: { query?: Record<string, string>; body?: string; contentType?: string } = {}) {
    const url = new URL(`${this.emulator.url}${path}`);
    for (const [key, value] of Object.entries(init.query ?? {})) url.searchParams.set(key, value);
    const response = await fetch(url, {
      method,
      ...(init.body !== undefined
        ? { body: init.body, headers: { 'content-type': init.contentType ?? 'application/json' } }
        : {}),
    });
    const text = await response.text();
    return { status: response.status, headers: response.headers, json: JSON.parse(text) as Record<string, any> };
  }

  async createAudience(name = 'Test audience'): Promise<string> {
    const { id } = await this.client.createCustomAudience(AD_ACCOUNT, {
      name,
      description: 'created by a test',
      customerFileSource: 'USER_PROVIDED_ONLY',
    });
    return id;
  }

  async rowsOf(audienceId: string): Promise<{ schema: string[]; rows: unknown[][] }> {
    return this.admin('GET', `/_emulator/audiences/${audienceId}/rows`);
  }
}

/** The rejection of a promise that must fail with a GraphApiError. */
export async function graphErrorOf(promise: Promise<unknown>): Promise<GraphApiError> {
  try {
    await promise;
  } catch (error) {
    if (error instanceof Error && error.name === 'GraphApiError') return error as GraphApiError;
    throw error;
  }
  throw new Error('expected the call to fail with a GraphApiError');
}
