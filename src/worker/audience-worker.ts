import { NativeConnection, Runtime, Worker } from '@temporalio/worker';
import type { Environment } from '../config/environment';
import { requireAccessToken } from '../config/environment';
import { temporalConnectionOptions, unreachableTemporalMessage } from '../config/temporal-connection';
import { createActivities } from '../activities';
import { createMemberEncoder } from '../activities/member-encoder';
import { createSourceAccess } from '../activities/source-access';
import { createPool } from '../db/pool';
import { createSourcePool } from '../db/source-pool';
import { sourceLimits } from '../db/source-session';
import { migrate } from '../db/migrations';
import { readServerSettings, slowFirstLoadHints } from '../db/server-settings';
import { GraphClient } from '../facebook/graph-client';
import { MAX_ROWS_PER_USERS_REQUEST } from '../facebook/users-payload';
import { createAudienceMetrics } from '../metrics/audience-metrics';
import { WORKFLOW_BUNDLE_PATH } from './workflow-bundle';
import { startAudienceStateCounts } from './audience-state-counts';

/** Activities one worker runs at once; each cycle holds at most two database connections. */
const MAX_CONCURRENT_ACTIVITIES = 50;
/**
 * How stale a cycle's progress (its activities' heartbeat details) may be at the server, where `status` and
 * `sync-now --wait` read it. The SDK's default, 0.8 × the 30 s heartbeat timeout, would leave a progress bar
 * still for 24 s; heartbeats are calls to the server, not history events, and this is one every 2 s per running
 * cycle at most.
 */
const HEARTBEAT_THROTTLE = '2 seconds';

export interface RunningWorker {
  worker: Worker;
  /** Resolves when the worker has stopped and everything it opened is closed. */
  finished: Promise<void>;
}

/**
 * Starts a worker for the audience-sync task queue with real dependencies built from the environment. The
 * caller stops it with `worker.shutdown()` (the CLI relies on Temporal's default SIGINT/SIGTERM handling), and
 * installs the Runtime first (installWorkerRuntime) when METRICS_ADDRESS asks for metrics.
 */
export async function startAudienceWorker(environment: Environment): Promise<RunningWorker> {
  const accessToken = requireAccessToken(environment);
  const pool = createPool(environment.DATABASE_URL, { max: 20 });
  const sourcePool = createSourcePool(environment.SOURCE_DATABASE_URL ?? environment.DATABASE_URL, 20);
  const encoder = createMemberEncoder(environment.HASH_THREADS);
  const metrics = createAudienceMetrics(Runtime.instance().metricMeter);
  let stopStateCounts: (() => Promise<void>) | undefined;
  const closeResources = async () => {
    await stopStateCounts?.();
    await encoder.close();
    await Promise.all([pool.end(), sourcePool.end()]);
  };
  let connection: NativeConnection | undefined;
  try {
    await migrate(pool);
    for (const hint of slowFirstLoadHints(await readServerSettings(pool))) Runtime.instance().logger.warn(hint);
    connection = await NativeConnection.connect(temporalConnectionOptions(environment)).catch((error: Error) => {
      throw new Error(`${unreachableTemporalMessage(environment)} (${error.message})`);
    });
    const worker = await Worker.create({
      connection,
      namespace: environment.TEMPORAL_NAMESPACE,
      taskQueue: environment.TEMPORAL_TASK_QUEUE,
      workflowBundle: { codePath: WORKFLOW_BUNDLE_PATH },
      maxConcurrentActivityTaskExecutions: MAX_CONCURRENT_ACTIVITIES,
      maxHeartbeatThrottleInterval: HEARTBEAT_THROTTLE,
      activities: createActivities({
        pool,
        sourcePool,
        sourceAccess: createSourceAccess(sourcePool, { allowPrivileged: environment.SOURCE_ALLOW_PRIVILEGED_ROLE }),
        encoder,
        graph: new GraphClient({
          baseUrl: environment.FB_GRAPH_URL,
          apiVersion: environment.FB_API_VERSION,
          accessToken,
          onRequest: metrics.metaRequest,
        }),
        uploadConcurrency: environment.UPLOAD_CONCURRENCY,
        sourceLimits: sourceLimits(environment.SOURCE_STATEMENT_TIMEOUT),
        batchSize: MAX_ROWS_PER_USERS_REQUEST,
        metrics,
      }),
    });
    if (environment.METRICS_ADDRESS) stopStateCounts = await startAudienceStateCounts(environment, metrics);
    const openConnection = connection;
    const finished = worker.run().finally(async () => {
      await openConnection.close();
      await closeResources();
    });
    return { worker, finished };
  } catch (error) {
    await connection?.close();
    await closeResources();
    throw error;
  }
}
