import { randomUUID } from 'node:crypto';
import { ApplicationFailure } from '@temporalio/common';
import { MockActivityEnvironment } from '@temporalio/testing';
import type { Pool, PoolClient } from 'pg';
import { createPool, inTransaction, SCHEMA } from '../../src/db/pool';
import { createSourcePool } from '../../src/db/source-pool';
import { sourceLimits, type SourceLimits } from '../../src/db/source-session';
import { migrate } from '../../src/db/migrations';
import { forgetAudience } from '../../src/db/audiences';
import { cycleTables, dropCycleTables } from '../../src/db/cycle-tables';
import { createPreparationActivities, type CyclePlan, type PrepareCycleInput } from '../../src/activities/cycle-preparation';
import { createSourceAccess } from '../../src/activities/source-access';
import { CALLING_THREAD_ENCODER, type MemberEncoder } from '../../src/activities/member-encoder';
import type { GraphClient } from '../../src/facebook/graph-client';
import { recordedMetrics } from './recorded-metrics';

export const DATABASE_URL = process.env.DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/postgres';

export interface SourceOptions {
  /** Where audience queries run; the admin URL (a superuser) unless given. */
  url?: string;
  allowPrivileged?: boolean;
  limits?: Partial<SourceLimits>;
  encoder?: MemberEncoder;
  /** Rows per planned batch (10,000 unless given). */
  batchSize?: number;
  /** Awaited before each statement the activity sends our database as text (not COPY's data). */
  beforeStatement?: (text: string) => Promise<void>;
}

/**
 * prepareCycle against the real database, as the worker runs it, for audiences this harness records and removes:
 * `prepare` runs one cycle of an audience (a new one unless a key is given).
 */
export class PreparationHarness {
  readonly pool: Pool = createPool(DATABASE_URL);
  private readonly audienceKeys: string[] = [];
  /** Cycles whose working tables `stop` drops: those `prepare` ran, and any a test adds. */
  readonly cycleIds: string[] = [];
  private readonly sourcePools: Pool[] = [];
  /** Connections each source pool opened, by the pool: a query refused before any database sees it opens none. */
  readonly sourceConnections = new Map<Pool, number>();

  async start(): Promise<this> {
    await migrate(this.pool);
    return this;
  }

  source(options: SourceOptions = {}) {
    const sourcePool = createSourcePool(options.url ?? DATABASE_URL, 2);
    this.sourcePools.push(sourcePool);
    this.sourceConnections.set(sourcePool, 0);
    sourcePool.on('connect', () => this.sourceConnections.set(sourcePool, (this.sourceConnections.get(sourcePool) ?? 0) + 1));
    const activities = createPreparationActivities({
      pool: options.beforeStatement ? watchedPool(this.pool, options.beforeStatement) : this.pool,
      sourcePool,
      sourceAccess: createSourceAccess(sourcePool, { allowPrivileged: options.allowPrivileged ?? false }),
      encoder: options.encoder ?? CALLING_THREAD_ENCODER,
      graph: {} as GraphClient,
      uploadConcurrency: 1,
      sourceLimits: { ...sourceLimits('1min'), ...options.limits },
      batchSize: options.batchSize ?? 10_000,
      metrics: recordedMetrics(),
    });
    const prepare = async (
      sourceSql: string,
      audienceKey?: string,
      overrides: Partial<PrepareCycleInput> = {},
      environment = new MockActivityEnvironment(),
    ): Promise<{ audienceKey: string; plan: CyclePlan }> => {
      const key = audienceKey ?? (await this.newAudience());
      const cycleId = overrides.cycleId ?? randomUUID();
      this.cycleIds.push(cycleId);
      const plan: CyclePlan = await environment.run<[PrepareCycleInput], CyclePlan, typeof activities.prepareCycle>(activities.prepareCycle, {
        audienceKey: key,
        adAccountId: 'act_1',
        name: key,
        cycleId,
        fbAudienceId: '1',
        sourceSql,
        minSize: 1,
        allowMassRemoval: false,
        expectedGeneration: 0,
        ...overrides,
      });
      return { audienceKey: key, plan };
    };
    return { pool: sourcePool, prepare };
  }

  /** A new audience with a record, as a connected one has. */
  async newAudience(): Promise<string> {
    const audienceKey = `cycle-preparation-${randomUUID()}`;
    this.audienceKeys.push(audienceKey);
    await this.pool.query(`INSERT INTO ${SCHEMA}.audiences (audience_key, ad_account_id, name, fb_audience_id) VALUES ($1, 'act_1', $1, '1')`, [
      audienceKey,
    ]);
    return audienceKey;
  }

  async stop(): Promise<void> {
    for (const cycleId of this.cycleIds) await inTransaction(this.pool, (client) => dropCycleTables(client, cycleTables(cycleId)));
    // What a cycle that wrongly went on would have applied, so a failing run leaves nothing behind either.
    for (const key of this.audienceKeys) await forgetAudience(this.pool, key);
    await Promise.all([this.pool.end(), ...this.sourcePools.map((pool) => pool.end())]);
  }
}

/**
 * `pool`, and the clients it lends, with `before` awaited ahead of every statement sent as text, as prepareCycle
 * sends them: promises only (a callback given to `connect` or `query` is not supported), one statement at a time.
 */
function watchedPool(pool: Pool, before: (text: string) => Promise<void>): Pool {
  const watched = <T extends object>(target: T, wrap: (property: string | symbol, value: Function) => unknown): T =>
    new Proxy(target, {
      get(object, property) {
        const value: unknown = Reflect.get(object, property, object);
        return typeof value === 'function' ? wrap(property, value.bind(object)) : value;
      },
    });
  const query = (send: Function) => (...args: unknown[]) =>
    typeof args[0] === 'string' ? before(args[0]).then(() => send(...args)) : send(...args);
  const client = (lent: PoolClient): PoolClient => watched(lent, (property, method) => (property === 'query' ? query(method) : method));
  return watched(pool, (property, method) => {
    if (property === 'query') return query(method);
    if (property === 'connect') return async () => client(await method());
    return method;
  });
}

/** The ApplicationFailure a cycle failed with (the test fails if it did not fail, or failed otherwise). */
export async function failureOf(plan: Promise<unknown>): Promise<ApplicationFailure> {
  const error = await plan.then(
    () => undefined,
    (thrown: unknown) => thrown,
  );
  expect(error).toBeInstanceOf(ApplicationFailure);
  return error as ApplicationFailure;
}
