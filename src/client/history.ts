import type { Environment } from '../config/environment';
import { createPool } from '../db/pool';
import { listCycles, type CycleRecord } from '../db/sync-cycles';
import { UserFacingError } from './audience-client';

/** Cycle history lives in PostgreSQL beside the synced rows, so it outlives workflow runs and retention. */
export async function readHistory(environment: Environment, audienceKey: string, limit: number): Promise<CycleRecord[]> {
  const pool = createPool(environment.DATABASE_URL, { max: 1, applicationName: 'audience-sync history' });
  try {
    return await listCycles(pool, audienceKey, limit);
  } catch (error) {
    const code = (error as { code?: string }).code;
    if (code === '42P01' || code === '3F000') return [];
    throw new UserFacingError(`Cannot read the cycle history from DATABASE_URL: ${(error as Error).message}`);
  } finally {
    await pool.end();
  }
}
