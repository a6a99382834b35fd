/** What a cycle does once its delta is known. */
export type CycleDecision = 'upload' | 'unchanged' | 'below_minimum' | 'needs_confirmation';

/** Removing fewer rows than this never asks for confirmation, however small the audience. */
export const MASS_REMOVAL_FLOOR = 100;

export interface DecisionFacts {
  audienceKey: string;
  members: number;
  adds: number;
  removes: number;
  syncedBefore: number;
  minSize: number;
  allowMassRemoval: boolean;
}

/**
 * The guards run before anything reaches Meta. Mass removal is checked first: a source that suddenly returns
 * nothing (a broken join, an emptied table) is far more often a mistake than a real audience, and it is also
 * below the minimum; the operator should be asked about the removal, not told the audience is small.
 */
export function decideCycle(facts: DecisionFacts): { decision: CycleDecision; message?: string } {
  const massRemoval = facts.removes > MASS_REMOVAL_FLOOR && facts.removes * 2 > facts.syncedBefore;
  if (massRemoval && !facts.allowMassRemoval) {
    return {
      decision: 'needs_confirmation',
      message:
        `This cycle would remove ${facts.removes} of the ${facts.syncedBefore} rows in the audience, so nothing was ` +
        `uploaded; check the source query, and if the removal is intended run: ` +
        `audience-sync sync-now ${facts.audienceKey} --allow-mass-removal`,
    };
  }
  if (facts.members < facts.minSize) {
    return {
      decision: 'below_minimum',
      message:
        `The source has ${facts.members} members with a usable identifier, fewer than the minimum of ` +
        `${facts.minSize}, so nothing was uploaded.`,
    };
  }
  if (facts.adds === 0 && facts.removes === 0) return { decision: 'unchanged' };
  return { decision: 'upload' };
}
