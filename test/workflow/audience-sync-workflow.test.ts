import { randomUUID } from 'node:crypto';
import { ApplicationFailure } from '@temporalio/common';
import { TestWorkflowEnvironment } from '@temporalio/testing';
import { bundleWorkflowCode, Runtime, DefaultLogger, Worker, type WorkflowBundle } from '@temporalio/worker';
import type { WorkflowHandle } from '@temporalio/client';
import type { AudienceSyncActivities } from '../../src/activities';
import type { CyclePlan, PrepareCycleInput } from '../../src/activities/cycle-preparation';
import { decideCycle } from '../../src/activities/cycle-decision';
import type { AudienceConfig } from '../../src/workflows/audience-config';
import { audienceSyncWorkflow } from '../../src/workflows';
import { FailureType } from '../../src/workflows/failure-types';
import {
  pauseUpdate,
  renameUpdate,
  resumeUpdate,
  statusQuery,
  syncNowUpdate,
} from '../../src/workflows/messages';
import { temporalBinary } from '../../src/local/temporal-binaries';
import { registerSearchAttributes } from '../support/search-attributes';

const HOUR = 60 * 60 * 1000;

/**
 * Test doubles for the activities: they record what the workflow asked for and answer like the real ones would
 * for an audience of `members` people, using the real cycle decision so the minimum and mass-removal guards are
 * the production ones.
 */
class FakeMeta {
  members = 500;
  synced = 0;
  prepareCalls: PrepareCycleInput[] = [];
  uploads = 0;
  renames: string[] = [];
  ensureCalls: { goneFbAudienceId?: string }[] = [];
  adoptCalls: string[] = [];
  lookalikeCalls: { seedName: string; lookalikes: string[] }[] = [];
  accessChecks = 0;
  /** Failures the next upload calls throw, in order. */
  uploadFailures: Error[] = [];
  accessAnswers: Awaited<ReturnType<AudienceSyncActivities['checkAudienceAccess']>>[] = [];
  /** Failures the next preparations throw, in order. */
  prepareFailures: Error[] = [];
  sourceChecks = 0;
  sourceAnswers: Awaited<ReturnType<AudienceSyncActivities['checkSourceAccess']>>[] = [];
  /** What preparations report when the worker runs them as a privileged role it was allowed to use. */
  sourceWarning: string | undefined;
  metaReads = 0;
  /** Meta's delivery status of the audience; a failure makes the next reads throw it. */
  delivery = { code: 200, description: 'This audience is ready for use.' };
  metaReadFailure: Error | undefined;

  activities(): Partial<AudienceSyncActivities> {
    return {
      ensureCustomAudience: async (input) => {
        this.ensureCalls.push({ goneFbAudienceId: input.goneFbAudienceId });
        this.synced = 0;
        return { fbAudienceId: `fb-${this.ensureCalls.length}`, created: true };
      },
      keepLookalikes: async (input) => {
        this.lookalikeCalls.push({ seedName: input.seedName, lookalikes: input.lookalikes.map((spec) => `${spec.country}:${spec.percent}`) });
        return input.lookalikes.map((spec, i) => ({ ...spec, id: `lal-${i + 1}`, approximateSize: { lower: 1000, upper: 2000 } }));
      },
      adoptCustomAudience: async (input) => {
        this.adoptCalls.push(input.fbAudienceId);
        return { fbAudienceId: input.fbAudienceId, nameAtMeta: 'Name given in Ads Manager' };
      },
      renameCustomAudience: async (input) => {
        this.renames.push(input.name);
      },
      checkAudienceAccess: async () => {
        this.accessChecks++;
        return this.accessAnswers.shift() ?? { status: 'ok' };
      },
      checkSourceAccess: async () => {
        this.sourceChecks++;
        return this.sourceAnswers.shift() ?? { status: 'ok' };
      },
      prepareCycle: async (input): Promise<CyclePlan> => {
        this.prepareCalls.push(input);
        const failure = this.prepareFailures.shift();
        if (failure) throw failure;
        // A replace sends every row; any other cycle what changed.
        const adds = input.replace ? this.members : Math.max(0, this.members - this.synced);
        const removes = input.replace ? 0 : Math.max(0, this.synced - this.members);
        const { decision, message } = decideCycle({
          audienceKey: input.audienceKey,
          members: this.members,
          adds,
          removes,
          syncedBefore: this.synced,
          minSize: input.minSize,
          allowMassRemoval: input.allowMassRemoval,
          replacing: input.replace !== undefined,
          membersBefore: input.membersBefore,
        });
        return {
          cycleId: input.cycleId,
          decision,
          members: this.members,
          sourceRows: this.members,
          rebuiltMembers: this.members,
          adds,
          removes,
          dropped: 0,
          drops: {},
          coverage: { EMAIL: this.members },
          generation: this.prepareCalls.length,
          ...(input.replace ? { replace: input.replace } : {}),
          ...(message ? { message } : {}),
          ...(this.sourceWarning ? { sourceWarning: this.sourceWarning } : {}),
        };
      },
      uploadCycle: async () => {
        this.uploads++;
        const failure = this.uploadFailures.shift();
        if (failure) throw failure;
        if (this.prepareCalls.at(-1)?.replace) {
          this.synced = this.members;
          return { outcome: 'replaced', added: 0, removed: 0, replaced: this.members, invalidEntries: 0, removalsRefused: 0 };
        }
        const added = Math.max(0, this.members - this.synced);
        const removed = Math.max(0, this.synced - this.members);
        this.synced = this.members;
        return { outcome: 'synced', added, removed, replaced: 0, invalidEntries: 0, removalsRefused: 0 };
      },
      closeCycle: async () => undefined,
      readAudienceAtMeta: async () => {
        this.metaReads++;
        if (this.metaReadFailure) throw this.metaReadFailure;
        return {
          readAt: new Date().toISOString(),
          // Meta matches some of the rows it holds, a while after they arrive.
          approximateSize: this.synced ? { lower: Math.floor(this.synced * 0.6), upper: Math.floor(this.synced * 0.7) } : null,
          deliveryStatus: this.delivery,
          operationStatus: { code: 200, description: 'Normal' },
        };
      },
    };
  }
}

/** The failure an activity throws for a Graph error only a person can fix. */
function needsPerson(reason: string, graphCode: number, graphSubcode: number): ApplicationFailure {
  return ApplicationFailure.nonRetryable(`Graph API error ${graphCode}/${graphSubcode}`, FailureType.NeedsPerson, {
    reason,
    graphCode,
    graphSubcode,
  });
}

jest.setTimeout(60_000);

describe('audienceSyncWorkflow (time-skipping)', () => {
  let env: TestWorkflowEnvironment;
  let workflowBundle: WorkflowBundle;

  beforeAll(async () => {
    Runtime.install({ logger: new DefaultLogger('WARN') });
    env = await TestWorkflowEnvironment.createTimeSkipping({
      server: { executable: { type: 'existing-path', path: temporalBinary('temporal-test-server') } },
    });
    await registerSearchAttributes(env.connection);
    workflowBundle = await bundleWorkflowCode({
      workflowsPath: require.resolve('../../src/workflows'),
      logger: new DefaultLogger('WARN'),
    });
  }, 120_000);

  afterAll(async () => {
    await env?.teardown();
  });

  function config(overrides: Partial<AudienceConfig> = {}): AudienceConfig {
    return {
      audienceKey: `test-${randomUUID()}`,
      name: 'Test audience',
      adAccountId: 'act_1001',
      sourceSql: 'SELECT 1 AS user_id',
      intervalMs: HOUR,
      minSize: 100,
      customerFileSource: 'USER_PROVIDED_ONLY',
      maxCyclesPerRun: 24,
      ...overrides,
    };
  }

  async function withWorkflow(
    meta: FakeMeta,
    audience: AudienceConfig,
    body: (handle: WorkflowHandle<typeof audienceSyncWorkflow>) => Promise<void>,
  ): Promise<void> {
    const taskQueue = `test-${randomUUID()}`;
    const worker = await Worker.create({
      connection: env.nativeConnection,
      taskQueue,
      workflowBundle,
      activities: meta.activities(),
    });
    await worker.runUntil(async () => {
      const handle = await env.client.workflow.start(audienceSyncWorkflow, {
        workflowId: `audience-sync:${audience.audienceKey}`,
        taskQueue,
        args: [{ config: audience }],
      });
      try {
        await body(handle);
      } finally {
        await settled(handle);
        await handle.terminate();
      }
    });
  }

  /**
   * Waits until no activity is in flight (as twice in a row shows): the time-skipping server stops skipping time
   * for good when a workflow is terminated while one of its activities runs, which would hang the next test.
   */
  async function settled(handle: WorkflowHandle<typeof audienceSyncWorkflow>): Promise<void> {
    let quiet = 0;
    for (let i = 0; i < 100 && quiet < 2; i++) {
      const pending = (await handle.describe()).raw.pendingActivities?.length ?? 0;
      quiet = pending === 0 ? quiet + 1 : 0;
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
  }

  /** Lets workflow time pass (skipped) and gives the worker a moment to run what became due. */
  async function advance(ms: number): Promise<void> {
    await env.sleep(ms);
  }

  async function waitFor(check: () => boolean | Promise<boolean>): Promise<void> {
    for (let i = 0; i < 200; i++) {
      if (await check()) return;
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
    throw new Error('condition not reached');
  }

  it('creates the audience once and runs three hourly cycles in seconds of wall time', async () => {
    const meta = new FakeMeta();
    const started = Date.now();
    await withWorkflow(meta, config(), async (handle) => {
      await waitFor(() => meta.prepareCalls.length === 1);
      await advance(HOUR);
      await waitFor(() => meta.prepareCalls.length === 2);
      await advance(HOUR);
      await waitFor(async () => (await handle.query(statusQuery)).cyclesCompleted === 3);
      const status = await handle.query(statusQuery);
      expect(status.state).toBe('synced');
      expect(status.fbAudienceId).toBe('fb-1');
      expect(status.cyclesCompleted).toBe(3);
      expect(status.memberCount).toBe(500);
    });
    expect(meta.ensureCalls).toHaveLength(1);
    expect(meta.uploads).toBe(1); // later cycles had nothing to change
    expect(Date.now() - started).toBeLessThan(30_000);
  });

  it('runs no cycle while paused and starts again on resume', async () => {
    const meta = new FakeMeta();
    await withWorkflow(meta, config(), async (handle) => {
      await waitFor(async () => (await handle.query(statusQuery)).cyclesCompleted === 1);
      const paused = await handle.executeUpdate(pauseUpdate);
      expect(paused.state).toBe('paused');
      await advance(3 * HOUR);
      expect(meta.prepareCalls).toHaveLength(1);
      expect((await handle.query(statusQuery)).state).toBe('paused');
      await handle.executeUpdate(resumeUpdate);
      await advance(HOUR);
      await waitFor(() => meta.prepareCalls.length === 2);
    });
  });

  it('renames at Meta exactly once', async () => {
    const meta = new FakeMeta();
    await withWorkflow(meta, config(), async (handle) => {
      await waitFor(() => meta.prepareCalls.length === 1);
      const status = await handle.executeUpdate(renameUpdate, { args: ['Renamed audience'] });
      expect(status.name).toBe('Renamed audience');
      await waitFor(async () => (await handle.query(statusQuery)).pendingRename === null);
      await advance(2 * HOUR);
      await waitFor(() => meta.prepareCalls.length === 3);
      await expect(handle.executeUpdate(renameUpdate, { args: ['   '] })).rejects.toMatchObject({
        cause: { message: expect.stringMatching(/empty/) },
      });
    });
    expect(meta.renames).toEqual(['Renamed audience']);
  });

  it('uploads nothing while the audience is below the minimum', async () => {
    const meta = new FakeMeta();
    meta.members = 40;
    await withWorkflow(meta, config({ minSize: 100 }), async (handle) => {
      const result = await handle.executeUpdate(syncNowUpdate, { args: [{ wait: true }] });
      expect(result.cycle?.outcome).toBe('below_minimum');
      const status = await handle.query(statusQuery);
      expect(status.state).toBe('below_minimum');
      expect(status.summary).toMatch(/fewer than the minimum of 100/);
    });
    expect(meta.uploads).toBe(0);
  });

  it('holds a mass removal until sync-now allows it', async () => {
    const meta = new FakeMeta();
    await withWorkflow(meta, config(), async (handle) => {
      await waitFor(() => meta.uploads === 1);
      meta.members = 0;
      const held = await handle.executeUpdate(syncNowUpdate, { args: [{ wait: true }] });
      expect(held.cycle?.outcome).toBe('needs_confirmation');
      expect(meta.uploads).toBe(1);
      meta.members = 120;
      const allowed = await handle.executeUpdate(syncNowUpdate, { args: [{ wait: true, allowMassRemoval: true }] });
      expect(allowed.cycle?.outcome).toBe('synced');
      expect(allowed.cycle?.removed).toBe(380);
    });
  });

  it('continues as new and keeps the audience id and counters', async () => {
    const meta = new FakeMeta();
    await withWorkflow(meta, config({ maxCyclesPerRun: 2 }), async (handle) => {
      await waitFor(() => meta.prepareCalls.length === 1);
      const firstRun = (await handle.describe()).runId;
      for (let cycle = 2; cycle <= 5; cycle++) {
        if (cycle === 3) meta.members = 650;
        await advance(HOUR);
        await waitFor(() => meta.prepareCalls.length === cycle);
      }
      await waitFor(async () => (await handle.query(statusQuery)).cyclesCompleted === 5);
      const status = await handle.query(statusQuery);
      expect((await handle.describe()).runId).not.toBe(firstRun);
      expect(status.fbAudienceId).toBe('fb-1');
      expect(status.totals.added).toBe(650);
      expect(status.memberCount).toBe(650);
    });
    expect(meta.ensureCalls).toHaveLength(1);
  });

  it('parks on an error only a person can fix, checks once per interval, and recovers by itself', async () => {
    const meta = new FakeMeta();
    meta.uploadFailures.push(needsPerson('The access token was invalidated; generate a new one and restart the worker.', 190, 460));
    meta.accessAnswers.push({ status: 'needs_person', reason: 'The access token is still invalid.' });
    await withWorkflow(meta, config(), async (handle) => {
      await waitFor(async () => (await handle.query(statusQuery)).state === 'needs_attention');
      const parked = await handle.query(statusQuery);
      expect(parked.summary).toMatch(/access token was invalidated/);
      await advance(HOUR);
      await waitFor(() => meta.accessChecks === 1);
      expect(meta.prepareCalls).toHaveLength(1);
      await advance(HOUR);
      await waitFor(async () => (await handle.query(statusQuery)).state === 'synced');
      expect(meta.accessChecks).toBe(2);
      expect(meta.uploads).toBe(2);
    });
  });

  it('names the value-based terms too when a value-based audience is refused for terms', async () => {
    const meta = new FakeMeta();
    meta.uploadFailures.push(needsPerson("The business has not accepted Meta's Custom Audience Terms.", 200, 1870034));
    await withWorkflow(meta, config({ valueColumn: 'ltv' }), async (handle) => {
      await waitFor(async () => (await handle.query(statusQuery)).state === 'needs_attention');
      const parked = await handle.query(statusQuery);
      expect(parked.attention?.reason).toBe(
        "The business has not accepted Meta's Custom Audience Terms. A value-based audience also needs the value-based " +
          'audience terms accepted for the ad account, at https://www.facebook.com/customaudiences/value_based/tos.php.',
      );
    });
  });

  it('retries at once on resume while parked', async () => {
    const meta = new FakeMeta();
    meta.uploadFailures.push(
      ApplicationFailure.nonRetryable('terms', FailureType.NeedsPerson, {
        reason: 'Accept the Custom Audience terms.',
        graphCode: 200,
        graphSubcode: 1870034,
      }),
    );
    await withWorkflow(meta, config(), async (handle) => {
      await waitFor(async () => (await handle.query(statusQuery)).state === 'needs_attention');
      await handle.executeUpdate(resumeUpdate);
      await waitFor(async () => (await handle.query(statusQuery)).state === 'synced');
      expect(meta.accessChecks).toBe(0);
    });
  });

  it('parks while the source role is privileged, checks the role (not Meta) once per interval, and recovers', async () => {
    const meta = new FakeMeta();
    const reason = 'Audience queries run as the role postgres, which is a superuser: point SOURCE_DATABASE_URL at …';
    meta.prepareFailures.push(
      ApplicationFailure.nonRetryable(reason, FailureType.NeedsPerson, { reason, cause: 'source_role' }),
    );
    meta.sourceAnswers.push({ status: 'needs_person', reason });
    await withWorkflow(meta, config(), async (handle) => {
      await waitFor(async () => (await handle.query(statusQuery)).state === 'needs_attention');
      expect((await handle.query(statusQuery)).summary).toMatch(/role postgres, which is a superuser/);
      await advance(HOUR);
      await waitFor(() => meta.sourceChecks === 1);
      expect((await handle.query(statusQuery)).state).toBe('needs_attention');
      await advance(HOUR);
      await waitFor(async () => (await handle.query(statusQuery)).state === 'synced');
      expect(meta.sourceChecks).toBe(2);
      expect(meta.prepareCalls).toHaveLength(2);
    });
    expect(meta.accessChecks).toBe(0);
  });

  it('says in status that cycles run as a privileged role when the worker allows it', async () => {
    const meta = new FakeMeta();
    meta.sourceWarning = 'Runs privileged: audience queries run as the role postgres, which is a superuser.';
    await withWorkflow(meta, config(), async (handle) => {
      await waitFor(async () => (await handle.query(statusQuery)).state === 'synced');
      const status = await handle.query(statusQuery);
      expect(status.summary).toMatch(/^In sync with 500 members\..* Runs privileged: .*superuser\.$/);
      expect(status.lastCycle?.sourceWarning).toBe(meta.sourceWarning);
    });
  });

  it('replaces on sync-now --replace, and tells each cycle the generation of our tables it last saw', async () => {
    const meta = new FakeMeta();
    await withWorkflow(meta, config(), async (handle) => {
      await waitFor(() => meta.uploads === 1);
      const replaced = await handle.executeUpdate(syncNowUpdate, { args: [{ wait: true, replace: true }] });
      expect(replaced.cycle).toMatchObject({ outcome: 'replaced', replaced: 500, added: 0 });
      const next = await handle.executeUpdate(syncNowUpdate, { args: [{ wait: true }] });
      expect(next.cycle?.outcome).toBe('unchanged');
      expect((await handle.query(statusQuery)).totals.replaces).toBe(1);
    });
    expect(meta.prepareCalls.map((call) => [call.replace, call.expectedGeneration, call.membersBefore])).toEqual([
      [undefined, 0, undefined],
      ['requested', 1, 500],
      [undefined, 2, 500],
    ]);
  });

  it('fails a cycle whose activity broke an invariant at once, says why, and runs the next cycle', async () => {
    const meta = new FakeMeta();
    await withWorkflow(meta, config(), async (handle) => {
      await waitFor(() => meta.uploads === 1);
      meta.prepareFailures.push(
        ApplicationFailure.nonRetryable('audience a has no record; retrying cannot help', FailureType.StateInvariantBroken),
      );
      const failed = await handle.executeUpdate(syncNowUpdate, { args: [{ wait: true }] });
      expect(failed.cycle).toMatchObject({ outcome: 'failed', message: 'audience a has no record; retrying cannot help' });
      const status = await handle.query(statusQuery);
      expect(status.state).toBe('failed');
      expect(status.summary).toMatch(/^The last cycle failed: audience a has no record/);
      const next = await handle.executeUpdate(syncNowUpdate, { args: [{ wait: true }] });
      expect(next.cycle?.outcome).toBe('unchanged');
    });
  });

  it('adopts the Custom Audience given at connect instead of creating one, and gives it the connection name', async () => {
    const meta = new FakeMeta();
    await withWorkflow(meta, config({ customAudienceId: '777' }), async (handle) => {
      await waitFor(() => meta.uploads === 1);
      await waitFor(() => meta.renames.length === 1);
      const status = await handle.query(statusQuery);
      expect(status).toMatchObject({ fbAudienceId: '777', adopted: true, state: 'synced' });
    });
    expect(meta.adoptCalls).toEqual(['777']);
    expect(meta.ensureCalls).toEqual([]);
    expect(meta.renames).toEqual(['Test audience']);
    expect(meta.prepareCalls[0].fbAudienceId).toBe('777');
  });

  it('creates an audience of its own when an adopted one is deleted at Meta, and does not adopt it again', async () => {
    const meta = new FakeMeta();
    await withWorkflow(meta, config({ customAudienceId: '777' }), async (handle) => {
      await waitFor(() => meta.uploads === 1);
      meta.members = 510;
      meta.uploadFailures.push(ApplicationFailure.nonRetryable('gone', FailureType.AudienceGone));
      await handle.executeUpdate(syncNowUpdate, { args: [{}] });
      await waitFor(async () => (await handle.query(statusQuery)).fbAudienceId === 'fb-1');
      expect((await handle.query(statusQuery)).adopted).toBe(false);
    });
    expect(meta.adoptCalls).toEqual(['777']);
    expect(meta.ensureCalls).toEqual([{ goneFbAudienceId: '777' }]);
  });

  it('keeps lookalikes once the audience holds 100 members, shows them, and renames them with it', async () => {
    const meta = new FakeMeta();
    meta.members = 60;
    const lookalikes = [{ country: 'US', percent: 1 }, { country: 'GB', percent: 3 }];
    await withWorkflow(meta, config({ lookalikes }), async (handle) => {
      await waitFor(async () => (await handle.query(statusQuery)).cyclesCompleted === 1);
      const waiting = await handle.query(statusQuery);
      expect(meta.lookalikeCalls).toEqual([]);
      expect(waiting.lookalikes.map((known) => [known.id, known.problem])).toEqual([
        [null, 'It is made once the audience holds 100 members at Meta.'],
        [null, 'It is made once the audience holds 100 members at Meta.'],
      ]);
      meta.members = 500;
      await handle.executeUpdate(syncNowUpdate, { args: [{ wait: true }] });
      // Kept once the cycle is counted.
      await waitFor(async () => (await handle.query(statusQuery)).lookalikes.every((known) => known.id));
      const kept = await handle.query(statusQuery);
      expect(kept.lookalikes).toEqual([
        { country: 'US', percent: 1, id: 'lal-1', approximateSize: { lower: 1000, upper: 2000 } },
        { country: 'GB', percent: 3, id: 'lal-2', approximateSize: { lower: 1000, upper: 2000 } },
      ]);
      const described = await handle.describe();
      expect(described.searchAttributes.Lookalikes).toEqual(['US:1:lal-1', 'GB:3:lal-2']);
      await handle.executeUpdate(renameUpdate, { args: ['Renamed'] });
      await waitFor(() => meta.lookalikeCalls.some((call) => call.seedName === 'Renamed'));
    });
    expect(meta.lookalikeCalls[0]).toEqual({ seedName: 'Test audience', lookalikes: ['US:1', 'GB:3'] });
  });

  it('replaces at the cadence of --reconcile-every, counted from the last replace', async () => {
    const meta = new FakeMeta();
    const DAY = 24 * HOUR;
    await withWorkflow(meta, config({ intervalMs: DAY, reconcileEveryMs: 2 * DAY }), async (handle) => {
      await waitFor(async () => (await handle.query(statusQuery)).cyclesCompleted === 1);
      const first = await handle.query(statusQuery);
      expect(first.reconcileEveryMs).toBe(2 * DAY);
      expect(Date.parse(first.nextReconcileAt as string)).toBeGreaterThan(Date.parse(first.nextCycleAt as string));
      for (let cycle = 2; cycle <= 5; cycle++) {
        await advance(DAY);
        await waitFor(() => meta.prepareCalls.length === cycle);
      }
      await waitFor(async () => (await handle.query(statusQuery)).cyclesCompleted === 5);
    });
    expect(meta.prepareCalls.map((call) => call.replace)).toEqual([undefined, undefined, 'reconcile', undefined, 'reconcile']);
  });

  it("reads Meta's view once after each cycle, says what a person must act on, and keeps the figures when a read fails", async () => {
    const meta = new FakeMeta();
    await withWorkflow(meta, config(), async (handle) => {
      await waitFor(async () => (await handle.query(statusQuery)).cyclesCompleted === 1);
      const first = await handle.query(statusQuery);
      expect(first.meta).toMatchObject({ approximateSize: { lower: 300, upper: 350 }, deliveryStatus: { code: 200 }, attention: null });
      expect(first.meta?.note).toMatch(/from the 500 members sent.*not the rows it accepted/);
      expect(meta.metaReads).toBe(1);

      meta.delivery = { code: 300, description: 'This audience is too small to be used.' };
      await handle.executeUpdate(syncNowUpdate, { args: [{ wait: true }] });
      const small = await handle.query(statusQuery);
      expect(small.summary).toMatch(/too small to be used in ads \(delivery status 300\)/);
      expect(meta.metaReads).toBe(2);

      meta.metaReadFailure = ApplicationFailure.nonRetryable('Graph API error 100/33', FailureType.AudienceGone);
      await handle.executeUpdate(syncNowUpdate, { args: [{ wait: true }] });
      const failed = await handle.query(statusQuery);
      expect(failed.meta).toMatchObject({ approximateSize: { lower: 300, upper: 350 }, problem: expect.stringMatching(/could not be read: Graph API error 100\/33/) });
      expect(failed.state).toBe('synced');
      expect(meta.metaReads).toBe(3);
    });
  });

  it('recreates an audience Meta deleted and uploads everything again', async () => {
    const meta = new FakeMeta();
    await withWorkflow(meta, config(), async (handle) => {
      await waitFor(() => meta.uploads === 1);
      meta.members = 510;
      meta.uploadFailures.push(ApplicationFailure.nonRetryable('gone', FailureType.AudienceGone));
      await handle.executeUpdate(syncNowUpdate, { args: [{}] });
      await waitFor(async () => (await handle.query(statusQuery)).fbAudienceId === 'fb-2');
      await waitFor(async () => (await handle.query(statusQuery)).state === 'synced');
      const status = await handle.query(statusQuery);
      expect(status.totals.recreated).toBe(1);
    });
    expect(meta.ensureCalls).toEqual([{ goneFbAudienceId: undefined }, { goneFbAudienceId: 'fb-1' }]);
    expect(meta.uploads).toBe(3);
  });
});
