import type { ApproximateSize } from './meta-view';

/**
 * A lookalike a connection keeps beside its (value-based or plain) seed audience: `--lookalike us:1` is the 1% of
 * the United States' people most like the seed (reference §6). Plain JSON: it is part of the workflow's config.
 */
export interface LookalikeSpec {
  /** ISO 3166-1 alpha-2, uppercase. */
  country: string;
  /** 1 to 10: Meta's ratio 0.01 to 0.10. */
  percent: number;
}

export const MIN_LOOKALIKE_PERCENT = 1;
export const MAX_LOOKALIKE_PERCENT = 10;

/** A lookalike's seed must hold this many people at Meta (reference §10). */
export const MIN_LOOKALIKE_SEED = 100;

/** `US 1%`: how a lookalike is named after its seed and shown to operators. */
export function lookalikeLabel(spec: LookalikeSpec): string {
  return `${spec.country} ${spec.percent}%`;
}

/** The name of the lookalike at Meta: the seed's name, then the label. */
export function lookalikeName(seedName: string, spec: LookalikeSpec): string {
  return `${seedName} – lookalike ${lookalikeLabel(spec)}`;
}

export function sameLookalike(a: LookalikeSpec, b: LookalikeSpec): boolean {
  return a.country === b.country && a.percent === b.percent;
}

/** What the workflow knows of one of its lookalikes at Meta, for status. */
export interface LookalikeState extends LookalikeSpec {
  /** Null until Meta has created it. */
  id: string | null;
  /** Meta's size range; null when Meta gives none yet (it takes hours to populate). */
  approximateSize: ApproximateSize;
  /** Why it could not be created this cycle, in one sentence (Meta's refusal, or a seed still too small). */
  problem?: string;
}
