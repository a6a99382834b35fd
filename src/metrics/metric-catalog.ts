/**
 * Every metric audience-sync exports beside Temporal's own, on the worker's one Prometheus endpoint. Labels are
 * audience keys, ad account ids and fixed words only: never names, SQL or member data. Counters are created without
 * `_total`, which the exporter appends (countersTotalSuffix), as Prometheus names counters.
 */
export const METRICS = {
  rowsUploaded: {
    name: 'audience_sync_rows_uploaded',
    kind: 'counter',
    help: 'Rows Meta acknowledged, by audience and operation (add, remove, replace).',
  },
  cycles: { name: 'audience_sync_cycles', kind: 'counter', help: 'Finished sync cycles, by audience and outcome.' },
  cycleDuration: {
    name: 'audience_sync_cycle_duration_seconds',
    kind: 'histogram',
    help: 'Wall time of a sync cycle, from its start to its outcome, by audience.',
  },
  members: { name: 'audience_sync_members', kind: 'gauge', help: 'Members the last cycle read from the source, by audience.' },
  droppedValues: {
    name: 'audience_sync_dropped_values',
    kind: 'counter',
    help: 'Identifier values left out because they could not be normalized, by audience, match key and reason.',
  },
  metaRequests: {
    name: 'audience_sync_meta_requests',
    kind: 'counter',
    help: 'Graph API requests, by operation and outcome (ok, throttled, transient, permanent).',
  },
  throttleWait: {
    name: 'audience_sync_throttle_wait_seconds',
    kind: 'counter',
    help: 'Seconds activities were told to wait because Meta throttled the ad account.',
  },
  audiences: {
    name: 'audience_sync_audiences',
    kind: 'gauge',
    help: 'Connected audiences (running workflows) by state, counted in Temporal visibility.',
  },
  metaApproximateSize: {
    name: 'audience_sync_meta_approximate_size',
    kind: 'gauge',
    help: "Meta's range of matched people (bound lower or upper) as last read; -1 while Meta does not know.",
  },
} as const;

export type MetricKind = (typeof METRICS)[keyof typeof METRICS]['kind'];

/** Cycles take seconds for small audiences and many minutes for tens of millions of members. */
export const CYCLE_DURATION_BUCKETS = [1, 2.5, 5, 10, 30, 60, 120, 300, 600, 1800, 3600, 7200];

/** The names a scrape shows for one metric: a counter's `_total`, a histogram's series. */
export function exportedNames(metric: { name: string; kind: MetricKind }): string[] {
  switch (metric.kind) {
    case 'counter':
      return [`${metric.name}_total`];
    case 'histogram':
      return [`${metric.name}_bucket`, `${metric.name}_sum`, `${metric.name}_count`];
    case 'gauge':
      return [metric.name];
  }
}

export type UploadOperation = 'add' | 'remove' | 'replace';
export type MetaRequestOutcome = 'ok' | 'throttled' | 'transient' | 'permanent';
