import { countCoverageBits, COVERAGE_KEYS, coverageByKey } from '../matching/keys';
import type { CycleSummary } from '../workflows/audience-status';
import { mergeCounts, withMissingUserIds } from '../activities/member-chunk-encoding';
import { HAS_ROWS_BIT, type MemberChunkSummary, type MemberExample } from '../activities/member-chunk-summary';

/**
 * What an audience's query yields, counted as a cycle counts it (its members, coverage, drops and privileged-role
 * warning mean what they mean in a cycle's summary): counts, key names and user ids, never a value.
 */
export interface AudiencePreview extends Pick<CycleSummary, 'members' | 'coverage' | 'drops' | 'dropped' | 'sourceWarning'> {
  /** Rows the query returned. */
  sourceRows: number;
  /** Distinct user_ids left out because none of their values is usable (or, value-based, their value is not). */
  userIdsWithoutRows: number;
  /** User_ids on more than one row, and the rows they are on: a cycle keeps one row of each (not a chosen one). */
  duplicateUserIds: { userIds: number; rows: number };
  /** The first members in the query's order. */
  examples: MemberExample[];
  /** For each drop label, the user_ids of the first members with that drop. */
  dropExamples: Record<string, string[]>;
}

/**
 * Adds up the encoder's chunk summaries, which arrive in any order, into one preview: each user_id counted once
 * (its first row in the source, where it is on several), and examples from the start of the source.
 */
export class PreviewTally {
  private sourceRows = 0;
  private withoutUserId = 0;
  private readonly drops: Record<string, number> = {};
  private readonly chunks: { index: number; idDigests: BigUint64Array; masks: Uint32Array }[] = [];
  private examples: { index: number; example: MemberExample }[] = [];
  private readonly dropExamples: Record<string, { index: number; userId: string }[]> = {};

  constructor(private readonly examplesWanted: number) {}

  add(summary: MemberChunkSummary, index: number): void {
    this.sourceRows += summary.sourceRows;
    this.withoutUserId += summary.withoutUserId;
    mergeCounts(this.drops, summary.drops);
    this.chunks.push({ index, idDigests: summary.idDigests, masks: summary.masks });
    this.examples = this.earliest(this.examples, summary.examples.map((example) => ({ index, example })));
    for (const [label, userIds] of Object.entries(summary.dropExamples)) {
      const added = userIds.map((userId) => ({ index, userId }));
      this.dropExamples[label] = this.earliest(this.dropExamples[label] ?? [], added);
    }
  }

  result(): AudiencePreview {
    this.chunks.sort((a, b) => a.index - b.index);
    const repeated = this.repeatedDigests();
    const seen = new Set<bigint>();
    const perKey = new Array<number>(COVERAGE_KEYS.length).fill(0);
    let members = 0;
    let userIdsWithoutRows = 0;
    let duplicateRows = 0;
    for (const { idDigests, masks } of this.chunks) {
      for (let row = 0; row < masks.length; row++) {
        if (repeated.size > 0 && repeated.has(idDigests[row] as bigint)) {
          duplicateRows++;
          if (seen.has(idDigests[row] as bigint)) continue;
          seen.add(idDigests[row] as bigint);
        }
        const mask = masks[row] as number;
        if (mask & HAS_ROWS_BIT) members++;
        else userIdsWithoutRows++;
        countCoverageBits(mask, perKey);
      }
    }
    const coverage = coverageByKey((bit) => perKey[bit] as number);
    const drops = withMissingUserIds(this.drops, this.withoutUserId);
    return {
      sourceRows: this.sourceRows,
      members,
      userIdsWithoutRows,
      coverage,
      drops,
      dropped: Object.values(drops).reduce((sum, count) => sum + count, 0),
      duplicateUserIds: { userIds: repeated.size, rows: duplicateRows },
      examples: this.examples.map(({ example }) => example),
      dropExamples: Object.fromEntries(
        Object.entries(this.dropExamples).map(([label, found]) => [label, found.map(({ userId }) => userId)]),
      ),
    };
  }

  /** The id digests found on more than one row: sorted once, natively, 8 bytes a row. */
  private repeatedDigests(): Set<bigint> {
    const all = new BigUint64Array(this.chunks.reduce((sum, chunk) => sum + chunk.idDigests.length, 0));
    let offset = 0;
    for (const { idDigests } of this.chunks) {
      all.set(idDigests, offset);
      offset += idDigests.length;
    }
    all.sort();
    const repeated = new Set<bigint>();
    for (let i = 1; i < all.length; i++) if (all[i] === all[i - 1]) repeated.add(all[i] as bigint);
    return repeated;
  }

  /** The first `examplesWanted` of both lists by chunk position, each chunk's own in their order. */
  private earliest<T extends { index: number }>(kept: T[], added: T[]): T[] {
    return [...kept, ...added].sort((a, b) => a.index - b.index).slice(0, this.examplesWanted);
  }
}
