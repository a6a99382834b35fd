import {
  Client,
  Connection,
  WorkflowUpdateFailedError,
  type WorkflowExecutionDescription,
  type WorkflowHandle,
} from '@temporalio/client';
import { WorkflowNotFoundError } from '@temporalio/common';
import type { Environment } from '../config/environment';
import { temporalConnectionOptions, unreachableTemporalMessage } from '../config/temporal-connection';
import { workflowIdFor, type AudienceConfig } from '../workflows/audience-config';
import type { AudienceStatus } from '../workflows/audience-status';
import { lookalikeLabel, type LookalikeSpec } from '../workflows/lookalike-spec';
import type { audienceSyncWorkflow } from '../workflows/audience-sync-workflow';
import {
  lookalikeUpdate,
  pauseUpdate,
  renameUpdate,
  resumeUpdate,
  statusQuery,
  syncNowUpdate,
  type LookalikeChange,
  type LookalikeChangeResult,
  type SyncNowOptions,
  type SyncNowResult,
} from '../workflows/messages';
import * as SA from '../workflows/search-attributes';
import { readCycleProgress, type CycleProgressReport } from './cycle-progress-report';

/** An error whose message is the whole story for a user: the CLI prints it as one line. */
export class UserFacingError extends Error {
  override name = 'UserFacingError';
}

export interface ConnectResult {
  /** False when the audience was already connected; its running workflow is left as it is. */
  started: boolean;
  /** When already connected with a different configuration: what differs. */
  differences: string[];
}

/** The workflow's status, and where the cycle it runs is (null when it runs none). */
export interface AudienceStatusWithProgress extends AudienceStatus {
  progress: CycleProgressReport | null;
}

export interface AudienceListing {
  audienceKey: string;
  adAccountId: string | null;
  state: string | null;
  memberCount: number | null;
  lastSyncAt: string | null;
  workflowStatus: string;
}

/** The typed operations the CLI (and tests, and scripts) perform on audiences through Temporal. */
export class AudienceClient {
  private constructor(
    private readonly client: Client,
    private readonly connection: Connection,
    private readonly environment: Environment,
  ) {}

  static async connect(environment: Environment): Promise<AudienceClient> {
    let connection: Connection;
    try {
      connection = await Connection.connect({ ...temporalConnectionOptions(environment), connectTimeout: '5s' });
    } catch {
      throw new UserFacingError(unreachableTemporalMessage(environment));
    }
    const client = new Client({ connection, namespace: environment.TEMPORAL_NAMESPACE });
    return new AudienceClient(client, connection, environment);
  }

  async close(): Promise<void> {
    await this.connection.close();
  }

  /** Idempotent: connecting an audience that is already running leaves it running and reports so. */
  async connectAudience(config: AudienceConfig): Promise<ConnectResult> {
    const running = await this.runningStatus(config.audienceKey);
    if (running) return { started: false, differences: configDifferences(running, config) };
    await this.client.workflow.start<typeof audienceSyncWorkflow>('audienceSyncWorkflow', {
      workflowId: workflowIdFor(config.audienceKey),
      taskQueue: this.environment.TEMPORAL_TASK_QUEUE,
      args: [{ config }],
      // Another `connect` racing this one finds the workflow it started instead of failing.
      workflowIdConflictPolicy: 'USE_EXISTING',
      staticSummary: `Audience ${config.audienceKey} → ${config.adAccountId}`,
      typedSearchAttributes: [
        { key: SA.AudienceKey, value: config.audienceKey },
        { key: SA.AdAccountId, value: config.adAccountId },
        { key: SA.SyncState, value: 'creating' },
      ],
    });
    return { started: true, differences: [] };
  }

  async status(audienceKey: string): Promise<AudienceStatusWithProgress> {
    const { handle, description } = await this.describeRunning(audienceKey);
    const status = await handle.query(statusQuery);
    return { ...status, progress: await this.progressIn(description) };
  }

  /** Where the audience's running cycle is, from its activities' heartbeats; null when none runs. */
  async cycleProgress(audienceKey: string): Promise<CycleProgressReport | null> {
    return this.progressIn((await this.describeRunning(audienceKey)).description);
  }

  async pause(audienceKey: string): Promise<AudienceStatus> {
    return this.update(audienceKey, (handle) => handle.executeUpdate(pauseUpdate));
  }

  async resume(audienceKey: string): Promise<AudienceStatus> {
    return this.update(audienceKey, (handle) => handle.executeUpdate(resumeUpdate));
  }

  async rename(audienceKey: string, name: string): Promise<AudienceStatus> {
    return this.update(audienceKey, (handle) => handle.executeUpdate(renameUpdate, { args: [name] }));
  }

  async changeLookalike(audienceKey: string, change: LookalikeChange): Promise<LookalikeChangeResult> {
    return this.update(audienceKey, (handle) => handle.executeUpdate(lookalikeUpdate, { args: [change] }));
  }

  async syncNow(audienceKey: string, options: SyncNowOptions): Promise<SyncNowResult> {
    return this.update(audienceKey, (handle) => handle.executeUpdate(syncNowUpdate, { args: [options] }));
  }

  /** Stops syncing: the workflow is cancelled; the Custom Audience and its members stay at Meta. */
  async disconnect(audienceKey: string): Promise<void> {
    const handle = await this.runningHandle(audienceKey);
    await handle.cancel();
    await handle.result().catch(() => undefined);
  }

  async list(includeClosed: boolean): Promise<AudienceListing[]> {
    const filter = includeClosed ? '' : ` AND ExecutionStatus = 'Running'`;
    const listings: AudienceListing[] = [];
    try {
      for await (const execution of this.client.workflow.list({
        query: `WorkflowType = 'audienceSyncWorkflow'${filter}`,
      })) {
        const attributes = execution.typedSearchAttributes;
        listings.push({
          audienceKey: attributes.get(SA.AudienceKey) ?? execution.workflowId,
          adAccountId: attributes.get(SA.AdAccountId) ?? null,
          state: attributes.get(SA.SyncState) ?? null,
          memberCount: attributes.get(SA.MemberCount) ?? null,
          lastSyncAt: attributes.get(SA.LastSyncAt)?.toISOString() ?? null,
          workflowStatus: execution.status.name,
        });
      }
    } catch (error) {
      throw new UserFacingError(`Cannot list audiences: ${(error as Error).message}`);
    }
    return listings.sort((a, b) => a.audienceKey.localeCompare(b.audienceKey));
  }

  /** The handle of a running audience, or a one-line error naming the audience. */
  private async runningHandle(audienceKey: string): Promise<WorkflowHandle<typeof audienceSyncWorkflow>> {
    return (await this.describeRunning(audienceKey)).handle;
  }

  /** A running audience's handle and description, or a one-line error naming the audience. */
  private async describeRunning(
    audienceKey: string,
  ): Promise<{ handle: WorkflowHandle<typeof audienceSyncWorkflow>; description: WorkflowExecutionDescription }> {
    const handle = this.client.workflow.getHandle<typeof audienceSyncWorkflow>(workflowIdFor(audienceKey));
    let description: WorkflowExecutionDescription;
    try {
      description = await handle.describe();
    } catch (error) {
      if (error instanceof WorkflowNotFoundError) {
        throw new UserFacingError(
          `No audience with key ${audienceKey} is connected (\`audience-sync list\` shows those that are).`,
        );
      }
      throw error;
    }
    if (description.status.name !== 'RUNNING') {
      throw new UserFacingError(
        `Audience ${audienceKey} is not connected (its workflow is ${description.status.name.toLowerCase()}); ` +
          'connect it again to resume syncing.',
      );
    }
    return { handle, description };
  }

  private progressIn(description: WorkflowExecutionDescription): Promise<CycleProgressReport | null> {
    return readCycleProgress(description, this.client.options.loadedDataConverter);
  }

  private async runningStatus(audienceKey: string): Promise<AudienceStatus | undefined> {
    try {
      return await this.status(audienceKey);
    } catch (error) {
      if (error instanceof UserFacingError) return undefined;
      throw error;
    }
  }

  private async update<T>(
    audienceKey: string,
    send: (handle: WorkflowHandle<typeof audienceSyncWorkflow>) => Promise<T>,
  ): Promise<T> {
    const handle = await this.runningHandle(audienceKey);
    try {
      return await send(handle);
    } catch (error) {
      if (error instanceof WorkflowUpdateFailedError) {
        throw new UserFacingError(`Audience ${audienceKey}: ${error.cause?.message ?? error.message}`);
      }
      throw error;
    }
  }
}

/** What a second `connect` asked for that the running audience does not have; it keeps its own settings. */
function configDifferences(running: AudienceStatus, requested: AudienceConfig): string[] {
  const fields = ['name', 'adAccountId', 'sourceSql', 'intervalMs', 'minSize'] as const;
  const differences: string[] = fields.filter((field) => running[field] !== requested[field]);
  if ((running.reconcileEveryMs ?? undefined) !== requested.reconcileEveryMs) differences.push('reconcileEveryMs');
  if ((running.limitedDataUse ?? undefined) !== requested.limitedDataUse) differences.push('limitedDataUse');
  if ((running.valueColumn ?? undefined) !== requested.valueColumn) differences.push('valueColumn');
  const lookalikes = (specs: LookalikeSpec[] | undefined) => (specs ?? []).map(lookalikeLabel).sort().join();
  if (lookalikes(running.lookalikes) !== lookalikes(requested.lookalikes)) differences.push('lookalikes');
  if (requested.customAudienceId !== undefined && running.fbAudienceId !== requested.customAudienceId) {
    differences.push('customAudienceId');
  }
  return differences;
}
