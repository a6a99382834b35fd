import { inTransaction } from '../db/pool';
import { finishCycle, type CycleOutcome } from '../db/sync-cycles';
import type { ActivityDependencies } from './dependencies';
import { dropCycleTablesAfterCommit } from './cycle-tables-cleanup';

export interface CloseCycleInput {
  cycleId: string;
  outcome: Extract<CycleOutcome, 'failed' | 'needs_attention' | 'audience_gone' | 'abandoned'>;
  message: string;
}

export function createClosingActivities(deps: ActivityDependencies) {
  return {
    /** Records how a cycle the workflow had to give up on ended, and frees its working tables. */
    async closeCycle(input: CloseCycleInput): Promise<void> {
      await inTransaction(deps.pool, (client) => finishCycle(client, input.cycleId, input.outcome, input.message));
      await dropCycleTablesAfterCommit(deps.pool, input.cycleId);
    },
  };
}
