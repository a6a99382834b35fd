import { DefaultLogger, Runtime, type LogLevel } from '@temporalio/worker';
import { CYCLE_DURATION_BUCKETS, METRICS } from '../metrics/metric-catalog';

/**
 * Installs the process's Temporal Runtime, once and before any connection: with METRICS_ADDRESS, its Prometheus
 * exporter serves Temporal's SDK metrics and audience-sync's (recorded through the Runtime's metric meter) at
 * http://METRICS_ADDRESS/metrics, one endpoint for both.
 */
export function installWorkerRuntime(options: {
  metricsAddress?: string;
  logLevel?: LogLevel;
  /** The local stack handles Ctrl-C itself; a plain worker leaves it to Temporal (drain, then exit). */
  shutdownSignals?: NodeJS.Signals[];
}): void {
  Runtime.install({
    ...(options.logLevel ? { logger: new DefaultLogger(options.logLevel) } : {}),
    ...(options.shutdownSignals ? { shutdownSignals: options.shutdownSignals } : {}),
    ...(options.metricsAddress
      ? {
          telemetryOptions: {
            metrics: {
              prometheus: {
                bindAddress: options.metricsAddress,
                countersTotalSuffix: true,
                useSecondsForDurations: true,
                histogramBucketOverrides: { [METRICS.cycleDuration.name]: CYCLE_DURATION_BUCKETS },
              },
            },
          },
        }
      : {}),
  });
}
