import { Pool, type types } from 'pg';
import { survivingLostConnections } from './pool';
import { sourceTypeParser } from './source-types';

/** A pool for audiences' source queries, reading their columns as sourceTypeParser says. */
export function createSourcePool(connectionString: string, max = 10): Pool {
  const pool = new Pool({
    connectionString,
    max,
    application_name: 'audience-sync source',
    // Source queries are read in text format only.
    types: { getTypeParser: sourceTypeParser as typeof types.getTypeParser },
  });
  return survivingLostConnections(pool);
}
