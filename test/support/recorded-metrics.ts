import type { AudienceMetrics } from '../../src/metrics/audience-metrics';

export interface RecordedMetric {
  metric: keyof AudienceMetrics;
  args: unknown[];
}

/** Metrics that remember every recording, for tests that pin what an activity counts. */
export function recordedMetrics(): AudienceMetrics & { recorded: RecordedMetric[] } {
  const recorded: RecordedMetric[] = [];
  const record =
    (metric: keyof AudienceMetrics) =>
    (...args: unknown[]) => {
      recorded.push({ metric, args });
    };
  return {
    recorded,
    rowsUploaded: record('rowsUploaded'),
    cycleFinished: record('cycleFinished'),
    members: record('members'),
    droppedValues: record('droppedValues'),
    metaRequest: record('metaRequest'),
    throttleWait: record('throttleWait'),
    audiences: record('audiences'),
    approximateSize: record('approximateSize'),
  };
}
