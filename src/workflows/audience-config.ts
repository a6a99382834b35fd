import type { LimitedDataUseMode } from '../matching/keys';
import type { LookalikeSpec } from './lookalike-spec';
/**
 * An audience's configuration as the workflow carries it. Plain JSON only: it is the workflow's input and is
 * carried through continue-as-new. It holds the source SQL and names, never member data.
 */
export interface AudienceConfig {
  /** Stable, user-chosen key; the workflow id is derived from it. */
  audienceKey: string;
  /** The Custom Audience's name at Meta. */
  name: string;
  /** `act_<digits>`. */
  adAccountId: string;
  /** A read-only SELECT returning one row per member: `user_id` plus trait columns and/or a `traits` jsonb. */
  sourceSql: string;
  intervalMs: number;
  /** Below this many distinct members a cycle uploads nothing. */
  minSize: number;
  /** ISO 3166-1 alpha-2 country for phone numbers written without a country code. */
  defaultCountry?: string;
  customerFileSource: CustomerFileSource;
  /** Cycles per workflow run before continuing as new (history stays small and replay cheap). */
  maxCyclesPerRun: number;
  /** An existing Custom Audience to adopt instead of creating one (`connect --custom-audience-id`). */
  customAudienceId?: string;
  /** Replace the audience's whole membership at Meta this often (`connect --reconcile-every`); off when absent. */
  reconcileEveryMs?: number;
  /** Limited Data Use for members flagged by their trait, or for all (`connect --limited-data-use`); off when absent. */
  limitedDataUse?: LimitedDataUseMode;
  /**
   * The column (or `traits` key) of each member's value, for a value-based audience (`connect --value-column`).
   * A Custom Audience is value-based or not for good, so this never changes for a key's audience.
   */
  valueColumn?: string;
  /** Lookalikes kept beside the audience once it holds 100 members at Meta (`connect --lookalike us:1`). */
  lookalikes?: LookalikeSpec[];
}

export const CUSTOMER_FILE_SOURCES = [
  'USER_PROVIDED_ONLY',
  'PARTNER_PROVIDED_ONLY',
  'BOTH_USER_AND_PARTNER_PROVIDED',
] as const;
export type CustomerFileSource = (typeof CUSTOMER_FILE_SOURCES)[number];

export const DEFAULT_INTERVAL_MS = 60 * 60 * 1000;
export const MIN_INTERVAL_MS = 10 * 1000;
export const DEFAULT_MIN_SIZE = 100;
export const DEFAULT_MAX_CYCLES_PER_RUN = 24;
/** Reconciling more often than this would replace the audience every few cycles. */
export const MIN_RECONCILE_EVERY_MS = 24 * 60 * 60 * 1000;

export const TASK_QUEUE = 'audience-sync';

export function workflowIdFor(audienceKey: string): string {
  return `audience-sync:${audienceKey}`;
}

/** Keys become part of workflow ids, search attributes and Meta descriptions, so they stay short and plain. */
export const AUDIENCE_KEY_PATTERN = /^[A-Za-z0-9][A-Za-z0-9_.-]{0,99}$/;
export const AD_ACCOUNT_PATTERN = /^act_\d+$/;
