import type { Pool } from 'pg';
import type { GraphClient } from '../facebook/graph-client';
import type { MemberEncoder } from './member-encoder';
import type { SourceAccess } from './source-access';
import type { SourceLimits } from '../db/source-session';
import type { AudienceMetrics } from '../metrics/audience-metrics';

/** What the activities need from the outside world; the worker builds it once, tests build their own. */
export interface ActivityDependencies {
  /** Our own tables (schema audience_sync). */
  pool: Pool;
  /** Where audiences' source queries run: SOURCE_DATABASE_URL, else the same database as `pool`. */
  sourcePool: Pool;
  /** Whether the role of `sourcePool` may run audience queries. */
  sourceAccess: SourceAccess;
  graph: GraphClient;
  encoder: MemberEncoder;
  /** Upload requests in flight at once for one audience. */
  uploadConcurrency: number;
  /** How long a source statement may run (SOURCE_STATEMENT_TIMEOUT). */
  sourceLimits: SourceLimits;
  /** Rows per upload request; Meta accepts at most 10,000. */
  batchSize: number;
  /** Where rows uploaded, Meta's sizes and throttle waits are counted (the worker's Prometheus endpoint). */
  metrics: AudienceMetrics;
  /** How long a usersreplace session is continued (SESSION_BUDGET_MS, within Meta's 90 minutes); tests shorten it. */
  replaceSessionBudgetMs?: number;
}
