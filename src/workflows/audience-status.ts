import type { LimitedDataUseMode } from '../matching/keys';
import type { LookalikeState } from './lookalike-spec';
import type { MetaView } from './meta-view';

/**
 * What the workflow knows about its audience between and across runs, and what it shows operators.
 * Plain JSON (no Map, Set, Date or class) because it is carried through continue-as-new.
 */

/** The `SyncState` search attribute and the `state` of the status query. */
export const SYNC_STATES = [
  'creating',
  'syncing',
  'synced',
  'paused',
  'below_minimum',
  'needs_confirmation',
  'needs_attention',
  'failed',
] as const;
export type SyncState = (typeof SYNC_STATES)[number];

/** Counts of one finished cycle. Only counts and codes: nothing here identifies a member. */
export interface CycleSummary {
  cycleId: string;
  outcome: string;
  startedAt: string;
  finishedAt: string;
  members: number;
  /** Members whose rows were built this cycle: new or changed ones (all of them on a full rebuild). */
  rebuiltMembers: number;
  adds: number;
  removes: number;
  added: number;
  removed: number;
  /** Rows a replace put at Meta in place of everything the audience held. */
  replaced: number;
  dropped: number;
  /** Dropped values by `KEY:reason`. */
  drops: Record<string, number>;
  /** Members with a usable value, by match key. */
  coverage: Record<string, number>;
  invalidEntries: number;
  /** One sentence for an operator when the cycle did not sync. */
  message?: string;
  /** Set when the cycle ran its source query as a privileged role because SOURCE_ALLOW_PRIVILEGED_ROLE allows it. */
  sourceWarning?: string;
}

/** Why the audience is parked and what a person should do. */
export interface Attention {
  reason: string;
  since: string;
  graphCode?: number;
  graphSubcode?: number;
  /** The worker's source role rather than Meta: the parked audience checks the role instead of calling Meta. */
  cause?: 'source_role';
}

export interface SyncRequest {
  allowMassRemoval: boolean;
  /** Replace the audience's whole membership at Meta (usersreplace) instead of adding and removing. */
  replace?: boolean;
}

export interface CarriedState {
  state: SyncState;
  fbAudienceId?: string;
  /** An audience Meta reported deleted; never reused when a new one is found or created. */
  goneFbAudienceId?: string;
  paused: boolean;
  /** A name accepted by `rename` that Meta does not show yet. */
  pendingRename?: string;
  syncRequest?: SyncRequest;
  /** Epoch ms of the next scheduled cycle, so a new run keeps the schedule of the last one. */
  nextCycleAt?: number;
  /** Epoch ms of the last call that proved the audience still exists at Meta. */
  verifiedAt?: number;
  attention?: Attention;
  lastCycle?: CycleSummary;
  /** Distinct members with a usable identifier, as of the last cycle that read the source. */
  memberCount?: number;
  /**
   * The generation of our tables the last cycle planned. Fewer in our tables at the next cycle means they were
   * restored from an older backup; the cycle then replaces the audience at Meta (see src/db/audiences.ts).
   */
  stateGeneration?: number;
  /** The Custom Audience given to `connect --custom-audience-id` was taken over; it is not adopted again later. */
  adopted?: boolean;
  /** The audience's lookalikes at Meta as of the last cycle (`connect --lookalike`). */
  lookalikes?: LookalikeState[];
  /** What Meta made of the audience, read after the last cycle. */
  metaView?: MetaView;
  /** Epoch ms from which the next periodic reconciliation is counted: the last replace, or the first cycle. */
  reconciledAt?: number;
  /** How many cycles have finished, including earlier runs; also numbers `syncNow --wait` waiters. */
  cyclesCompleted: number;
  totals: { added: number; removed: number; recreated: number; replaces?: number };
}

export interface AudienceStatus {
  audienceKey: string;
  name: string;
  adAccountId: string;
  sourceSql: string;
  fbAudienceId: string | null;
  /** The Custom Audience in use is one adopted with `connect --custom-audience-id`. */
  adopted: boolean;
  state: SyncState;
  paused: boolean;
  pendingRename: string | null;
  nextCycleAt: string | null;
  intervalMs: number;
  minSize: number;
  /** The lookalikes kept beside the audience, with their ids and Meta's sizes once made. */
  lookalikes: LookalikeState[];
  /** `connect --value-column`: the column of each member's value in a value-based audience (null: not value-based). */
  valueColumn: string | null;
  /** `connect --limited-data-use`: whose rows carry LDU (null: nobody's, and no LDU columns). */
  limitedDataUse: LimitedDataUseMode | null;
  /** `connect --reconcile-every`, and when the next reconciling replace is due (null before the first cycle). */
  reconcileEveryMs: number | null;
  nextReconcileAt: string | null;
  attention: Attention | null;
  /** Meta's own view, read after each cycle, with what it asks of a person and what its figures mean. */
  meta: MetaViewStatus | null;
  memberCount: number | null;
  lastCycle: CycleSummary | null;
  cyclesCompleted: number;
  totals: CarriedState['totals'];
  /** One sentence on what is going on and, if anything, what to do. */
  summary: string;
}

export interface MetaViewStatus extends MetaView {
  /** One sentence when Meta's view asks something of a person (too small, unusable, an operation in trouble). */
  attention: string | null;
  /** What Meta's figures mean beside ours: matched people, as ranges, up to 24 hours behind. */
  note: string;
}

export function initialState(): CarriedState {
  return {
    state: 'creating',
    paused: false,
    // The first cycle runs as soon as the audience exists rather than an interval later.
    syncRequest: { allowMassRemoval: false },
    cyclesCompleted: 0,
    totals: { added: 0, removed: 0, recreated: 0 },
  };
}
