import type { Pool } from 'pg';
import type { GraphClient } from '../facebook/graph-client';
import type { MemberEncoder } from './member-encoder';

/** What the activities need from the outside world; the worker builds it once, tests build their own. */
export interface ActivityDependencies {
  /** Our own tables (schema audience_sync). */
  pool: Pool;
  /** Where audiences' source queries run: SOURCE_DATABASE_URL, else the same database as `pool`. */
  sourcePool: Pool;
  graph: GraphClient;
  encoder: MemberEncoder;
  /** Upload requests in flight at once for one audience. */
  uploadConcurrency: number;
  /** PostgreSQL duration after which a source query is cancelled, e.g. `30min`. */
  sourceStatementTimeout: string;
  /** Rows per upload request; Meta accepts at most 10,000. */
  batchSize: number;
}
