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
  /** The cycle replaces the whole membership: `adds` are the rows it sends, and Meta's rows are not known. */
  replacing: boolean;
  /** Members the last cycle counted, which a replace is weighed against. */
  membersBefore?: number;
}

/**
 * The guards run before anything reaches Meta. Mass removal is checked first: a source that suddenly returns
 * nothing (a broken join, an emptied table) is far more often a mistake than a real audience, and it is also
 * below the minimum; the operator should be asked about the removal, not told the audience is small.
 */
export function decideCycle(facts: DecisionFacts): { decision: CycleDecision; message?: string } {
  const confirm = `check the source query, and if the removal is intended run: audience-sync sync-now ${facts.audienceKey} --allow-mass-removal`;
  const massRemoval = facts.removes > MASS_REMOVAL_FLOOR && facts.removes * 2 > facts.syncedBefore;
  if (massRemoval && !facts.allowMassRemoval) {
    return {
      decision: 'needs_confirmation',
      message:
        `This cycle would remove ${facts.removes} of the ${facts.syncedBefore} rows in the audience, so nothing was ` +
        `uploaded; ${confirm}`,
    };
  }
  // A replace removes whatever Meta holds beyond the current members: weighed against the members last counted,
  // since which rows Meta holds is what a replace does not know.
  const shrinks =
    facts.membersBefore !== undefined &&
    facts.membersBefore - facts.members > MASS_REMOVAL_FLOOR &&
    facts.members * 2 < facts.membersBefore;
  if (facts.replacing && shrinks && !facts.allowMassRemoval) {
    return {
      decision: 'needs_confirmation',
      message:
        `This replace would leave ${facts.members} of the ${facts.membersBefore} members the audience had, so nothing ` +
        `was uploaded; ${confirm}`,
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
  if (facts.replacing && facts.adds === 0) {
    // usersreplace needs at least one row; an audience with a minimum of 0 and no members keeps what Meta holds.
    return { decision: 'below_minimum', message: 'The source has no rows to replace the audience with, so nothing was uploaded.' };
  }
  if (facts.adds === 0 && facts.removes === 0) return { decision: 'unchanged' };
  return { decision: 'upload' };
}
