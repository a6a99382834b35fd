import type { MetricMeter } from '@temporalio/common';
import type { ApproximateSize } from '../workflows/meta-view';
import { METRICS, type MetaRequestOutcome, type UploadOperation } from './metric-catalog';

/**
 * audience-sync's metrics, recorded through a Temporal metric meter so that they leave on the same Prometheus
 * endpoint as the SDK's (the Runtime's exporter). Imports only types, so workflow code records with it too.
 */
export interface AudienceMetrics {
  rowsUploaded(audience: string, operation: UploadOperation, rows: number): void;
  cycleFinished(audience: string, outcome: string, seconds: number): void;
  members(audience: string, members: number): void;
  droppedValues(audience: string, drops: Record<string, number>): void;
  metaRequest(operation: string, outcome: MetaRequestOutcome): void;
  throttleWait(adAccount: string, seconds: number): void;
  audiences(state: string, count: number): void;
  approximateSize(audience: string, size: ApproximateSize): void;
}

export function createAudienceMetrics(meter: MetricMeter): AudienceMetrics {
  const counter = (metric: { name: string; help: string }) => meter.createCounter(metric.name, undefined, metric.help);
  const gauge = (metric: { name: string; help: string }) => meter.createGauge(metric.name, 'int', undefined, metric.help);
  const rowsUploaded = counter(METRICS.rowsUploaded);
  const cycles = counter(METRICS.cycles);
  const cycleDuration = meter.createHistogram(METRICS.cycleDuration.name, 'float', undefined, METRICS.cycleDuration.help);
  const members = gauge(METRICS.members);
  const droppedValues = counter(METRICS.droppedValues);
  const metaRequests = counter(METRICS.metaRequests);
  const throttleWait = counter(METRICS.throttleWait);
  const audiences = gauge(METRICS.audiences);
  const approximateSize = gauge(METRICS.metaApproximateSize);
  return {
    rowsUploaded: (audience, operation, rows) => rowsUploaded.add(rows, { audience, operation }),
    cycleFinished: (audience, outcome, seconds) => {
      cycles.add(1, { audience, outcome });
      cycleDuration.record(seconds, { audience });
    },
    members: (audience, count) => members.set(count, { audience }),
    droppedValues: (audience, drops) => {
      for (const [label, count] of Object.entries(drops)) {
        // Drops are counted by `KEY:reason`.
        const [key = label, reason = 'unknown'] = label.split(':');
        droppedValues.add(count, { audience, key, reason });
      }
    },
    metaRequest: (operation, outcome) => metaRequests.add(1, { operation, outcome }),
    // A counter takes whole numbers; waits are Meta's seconds, rounded up.
    throttleWait: (adAccount, seconds) => throttleWait.add(Math.ceil(seconds), { ad_account: adAccount }),
    audiences: (state, count) => audiences.set(count, { state }),
    approximateSize: (audience, size) => {
      approximateSize.set(size?.lower ?? -1, { audience, bound: 'lower' });
      approximateSize.set(size?.upper ?? -1, { audience, bound: 'upper' });
    },
  };
}
