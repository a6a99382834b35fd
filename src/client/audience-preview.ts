import { ApplicationFailure } from '@temporalio/common';
import type { Environment } from '../config/environment';
import type { AudienceSql } from '../db/audience-sql';
import { beginSourceTransaction, sourceLimits } from '../db/source-session';
import type { MemberRowsOptions } from '../matching/member-rows';
import { createMemberEncoder } from '../activities/member-encoder';
import { encodeEachChunk, sourceMemberChunks } from '../activities/source-member-chunks';
import { fromSource } from '../activities/source-query-failure';
import { UserFacingError } from './audience-client';
import { PreviewTally, type AudiencePreview } from './preview-tally';
import { asSourceRole } from './source-check';

export interface PreviewOptions extends Pick<MemberRowsOptions, 'defaultCountry' | 'limitedDataUse' | 'valueColumn'> {
  /** How many example members, and user_ids per drop reason, to show. */
  examples: number;
}

/**
 * Reads the whole source once, as a cycle's full read does (the same statement, role check, read-only snapshot,
 * timeouts, chunks and hashing threads), and counts what it yields without writing anything anywhere: the rows
 * are summarized on the threads and dropped, so memory holds 12 bytes a source row (to count each user_id once).
 */
export async function previewAudience(environment: Environment, query: AudienceSql, options: PreviewOptions): Promise<AudiencePreview> {
  const limits = sourceLimits(environment.SOURCE_STATEMENT_TIMEOUT);
  const { examples, ...rowOptions } = options;
  const encoder = createMemberEncoder(environment.HASH_THREADS);
  try {
    return await asSourceRole(environment, 'preview', async (client, sourceWarning) => {
      await fromSource(beginSourceTransaction(client, 'REPEATABLE READ'), limits);
      const tally = new PreviewTally(examples);
      await encodeEachChunk(
        sourceMemberChunks(client, query, undefined, limits),
        encoder.parallelism,
        (chunk) => encoder.summarize(chunk, rowOptions, examples),
        (summary, index) => tally.add(summary, index),
      );
      // As after a cycle: whatever the SELECT managed to do anyway (a large object, a NOTIFY) is undone.
      await fromSource(client.query('ROLLBACK'), limits);
      return { ...tally.result(), ...(sourceWarning ? { sourceWarning } : {}) };
    });
  } catch (error) {
    // A cycle would fail with the same sentence (source-query-failure), which is the whole story here too.
    if (error instanceof ApplicationFailure) throw new UserFacingError(error.message);
    throw error;
  } finally {
    await encoder.close();
  }
}
