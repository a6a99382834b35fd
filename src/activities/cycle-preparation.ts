import { once } from 'node:events';
import { Context } from '@temporalio/activity';
import type { PoolClient } from 'pg';
import QueryStream from 'pg-query-stream';
import { from as copyFrom } from 'pg-copy-streams';
import type { MemberRowsOptions } from '../matching/member-rows';
import { inTransaction } from '../db/pool';
import { sourceQueryText } from '../db/source-query';
import {
  computeDelta,
  copyIntoStagingSql,
  createStagingTable,
  cycleTables,
  dropCycleTables,
  type CycleTables,
} from '../db/cycle-tables';
import { finishCycle, openCycle, recordPlan } from '../db/sync-cycles';
import type { ActivityDependencies } from './dependencies';
import { decideCycle, type CycleDecision } from './cycle-decision';
import { mergeCounts, type EncodedChunk } from './member-chunk-encoding';
import { missingUserIdFailure, sourceQueryFailure } from './source-query-failure';

export interface PrepareCycleInput {
  audienceKey: string;
  cycleId: string;
  fbAudienceId: string;
  sourceSql: string;
  minSize: number;
  defaultCountry?: string;
  allowMassRemoval: boolean;
}

/** A cycle's plan: counts only, so it can cross into workflow history. */
export interface CyclePlan {
  cycleId: string;
  decision: CycleDecision;
  members: number;
  sourceRows: number;
  uploadRows: number;
  adds: number;
  removes: number;
  dropped: number;
  drops: Record<string, number>;
  coverage: Record<string, number>;
  message?: string;
}

/** Source rows handed to the encoder at a time: big enough to amortize a thread hop, small enough to stream. */
const CHUNK_SIZE = 2_000;

export function createPreparationActivities(deps: ActivityDependencies) {
  return {
    /**
     * Source → normalize and hash → staging (COPY) → delta against the synced rows → decision. Nothing is sent
     * to Meta here; a retried attempt starts the cycle's working tables afresh.
     */
    async prepareCycle(input: PrepareCycleInput): Promise<CyclePlan> {
      const tables = cycleTables(input.cycleId);
      await inTransaction(deps.pool, async (client) => {
        const abandoned = await openCycle(client, input);
        for (const cycleId of abandoned) await dropCycleTables(client, cycleTables(cycleId));
        await createStagingTable(client, tables);
      });
      const staged = await stageSource(deps, input, tables);
      const delta = await inTransaction(deps.pool, (client) =>
        computeDelta(client, input.audienceKey, tables, deps.batchSize),
      );
      const { decision, message } = decideCycle({ ...delta, ...input });
      const dropped = Object.values(staged.drops).reduce((sum, count) => sum + count, 0) + staged.withoutUserId;
      const plan: CyclePlan = {
        cycleId: input.cycleId,
        decision,
        members: delta.members,
        sourceRows: staged.sourceRows,
        uploadRows: delta.uploadRows,
        adds: delta.adds,
        removes: delta.removes,
        dropped,
        drops: staged.withoutUserId ? { ...staged.drops, 'user_id:missing': staged.withoutUserId } : staged.drops,
        coverage: staged.coverage,
        ...(message ? { message } : {}),
      };
      await inTransaction(deps.pool, async (client) => {
        await recordPlan(client, input.cycleId, plan);
        if (decision !== 'upload') {
          await finishCycle(client, input.cycleId, decision, message ?? null);
          await dropCycleTables(client, tables);
        }
      });
      return plan;
    },
  };
}

type StagingTotals = Omit<EncodedChunk, 'copyText'>;

/**
 * Streams the source query through a cursor into the encoder and the encoder's output into COPY, with a bounded
 * number of chunks in flight: memory stays flat however large the audience.
 */
async function stageSource(
  deps: ActivityDependencies,
  input: PrepareCycleInput,
  tables: CycleTables,
): Promise<StagingTotals> {
  const totals: StagingTotals = { sourceRows: 0, stagedRows: 0, withoutUserId: 0, drops: {}, coverage: {} };
  const options: MemberRowsOptions = input.defaultCountry ? { defaultCountry: input.defaultCountry } : {};
  const context = Context.current();
  const source = await deps.sourcePool.connect();
  const target = await deps.pool.connect();
  let failed = false;
  try {
    const copy = target.query(copyFrom(copyIntoStagingSql(tables)));
    const copyFailed = once(copy, 'error').then(([error]) => Promise.reject(error));
    copyFailed.catch(() => undefined);

    const write = async (chunk: EncodedChunk): Promise<void> => {
      totals.sourceRows += chunk.sourceRows;
      totals.stagedRows += chunk.stagedRows;
      totals.withoutUserId += chunk.withoutUserId;
      mergeCounts(totals.drops, chunk.drops);
      mergeCounts(totals.coverage, chunk.coverage);
      if (chunk.copyText && !copy.write(chunk.copyText)) await Promise.race([once(copy, 'drain'), copyFailed]);
      context.heartbeat({ stage: 'staging', sourceRows: totals.sourceRows });
    };

    const inFlight = new Set<Promise<void>>();
    const dispatch = async (records: Record<string, unknown>[]): Promise<void> => {
      const work = deps.encoder.encode(records, options).then(write);
      inFlight.add(work);
      void work.finally(() => inFlight.delete(work)).catch(() => undefined);
      // One chunk per encoder thread plus one being read keeps every core busy without buffering the source.
      while (inFlight.size > deps.encoder.parallelism) await Promise.race(inFlight);
    };

    await readSource(deps, input, source, dispatch);
    await Promise.all(inFlight);
    copy.end();
    await Promise.race([once(copy, 'finish'), copyFailed]);
    return totals;
  } catch (error) {
    failed = true;
    throw error;
  } finally {
    // A connection left inside an open cursor or COPY is closed rather than handed to the next caller.
    source.release(failed);
    target.release(failed);
  }
}

async function readSource(
  deps: ActivityDependencies,
  input: PrepareCycleInput,
  source: PoolClient,
  dispatch: (records: Record<string, unknown>[]) => Promise<void>,
): Promise<void> {
  // Only failures of the source query are classified as such; a failure writing to our own tables is ours.
  const fromSource = async <T>(step: Promise<T>): Promise<T> => {
    try {
      return await step;
    } catch (error) {
      throw sourceQueryFailure(error, deps.sourceStatementTimeout);
    }
  };
  // Read-only: the source query can look at anything it is allowed to, and change nothing.
  await fromSource(source.query('BEGIN TRANSACTION READ ONLY'));
  await fromSource(source.query(`SET LOCAL statement_timeout = '${deps.sourceStatementTimeout}'`));
  const stream = source.query(new QueryStream(sourceQueryText(input.sourceSql), [], { batchSize: CHUNK_SIZE }));
  const records = (stream as AsyncIterable<Record<string, unknown>>)[Symbol.asyncIterator]();
  let chunk: Record<string, unknown>[] = [];
  for (;;) {
    const next = await fromSource(records.next());
    if (next.done) break;
    if (chunk.length === 0 && !('user_id' in next.value)) throw missingUserIdFailure();
    chunk.push(next.value);
    if (chunk.length === CHUNK_SIZE) {
      await dispatch(chunk);
      chunk = [];
    }
  }
  if (chunk.length > 0) await dispatch(chunk);
  await fromSource(source.query('COMMIT'));
}
