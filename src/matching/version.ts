/**
 * The version of the normalization rules. Cycles rebuild only members whose source row changed, which is right
 * only while the same source row still gives the same rows: raise this whenever a change to src/matching can
 * change a member's rows, and the next cycle of every audience rebuilds all of its members.
 */
export const MATCHING_VERSION = 1;
