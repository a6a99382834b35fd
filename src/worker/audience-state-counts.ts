import { Client, Connection } from '@temporalio/client';
import { Runtime } from '@temporalio/worker';
import type { Environment } from '../config/environment';
import { temporalConnectionOptions } from '../config/temporal-connection';
import type { AudienceMetrics } from '../metrics/audience-metrics';
import { SYNC_STATES } from '../workflows/audience-status';
import { SyncState } from '../workflows/search-attributes';

/** Often enough for a dashboard, rare enough that a fleet of workers costs visibility little. */
const COUNT_EVERY_MS = 30_000;

/**
 * Keeps `audience_sync_audiences{state}` current: the running audiences of this task queue by state, counted in
 * Temporal's visibility (the SyncState search attribute), so the figure covers the fleet, not this worker's share.
 */
export async function startAudienceStateCounts(environment: Environment, metrics: AudienceMetrics): Promise<() => Promise<void>> {
  const connection = await Connection.connect(temporalConnectionOptions(environment));
  const client = new Client({ connection, namespace: environment.TEMPORAL_NAMESPACE });
  const scope = `WorkflowType = 'audienceSyncWorkflow' AND ExecutionStatus = 'Running' AND TaskQueue = ${visibilityString(environment.TEMPORAL_TASK_QUEUE)}`;
  let warned = false;
  const count = async () => {
    try {
      for (const state of SYNC_STATES) {
        const { count: audiences } = await client.workflow.count(`${scope} AND ${SyncState.name} = '${state}'`);
        metrics.audiences(state, audiences);
      }
      warned = false;
    } catch (error) {
      // Once per outage: a dashboard without this gauge must not also flood the log.
      if (!warned) Runtime.instance().logger.warn('could not count audiences by state', { error: (error as Error).message });
      warned = true;
    }
  };
  let counting = count();
  const timer = setInterval(() => (counting = counting.then(count)), COUNT_EVERY_MS);
  return async () => {
    clearInterval(timer);
    await counting;
    await connection.close();
  };
}

/**
 * A string literal of Temporal's visibility queries: a task queue name is anything the operator chose. Its parser
 * reads a doubled quote as a quote and keeps other backslashes as they are (tried on the dev server: 'o''brien' and
 * 'a\b' find those queues); a backslash just before a quote or at the end cannot be written at all, and such a
 * name fails the count, which is logged.
 */
export function visibilityString(value: string): string {
  return `'${value.replace(/'/g, "''")}'`;
}
