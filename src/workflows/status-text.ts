import type { AudienceConfig } from './audience-config';
import type { AudienceStatus, CarriedState, SyncState } from './audience-status';
import { lookalikeLabel, MIN_LOOKALIKE_SEED, sameLookalike, type LookalikeState } from './lookalike-spec';
import { metaViewAttention, metaViewNote, type ApproximateSize } from './meta-view';

/** The status query's answer, with one sentence that tells an operator what is going on and what to do. */
export function describeStatus(config: AudienceConfig, s: CarriedState, state: SyncState): AudienceStatus {
  const nextCycleAt = s.nextCycleAt === undefined ? null : new Date(s.nextCycleAt).toISOString();
  const meta = s.metaView
    ? { ...s.metaView, attention: metaViewAttention(s.metaView) ?? null, note: metaViewNote(s.metaView, s.memberCount) }
    : null;
  return {
    audienceKey: config.audienceKey,
    name: config.name,
    adAccountId: config.adAccountId,
    sourceSql: config.sourceSql,
    fbAudienceId: s.fbAudienceId ?? null,
    adopted: s.fbAudienceId !== undefined && s.fbAudienceId === config.customAudienceId,
    state,
    paused: s.paused,
    pendingRename: s.pendingRename ?? null,
    nextCycleAt,
    intervalMs: config.intervalMs,
    minSize: config.minSize,
    lookalikes: lookalikesOf(config, s),
    valueColumn: config.valueColumn ?? null,
    limitedDataUse: config.limitedDataUse ?? null,
    reconcileEveryMs: config.reconcileEveryMs ?? null,
    nextReconcileAt:
      config.reconcileEveryMs !== undefined && s.reconciledAt !== undefined
        ? new Date(s.reconciledAt + config.reconcileEveryMs).toISOString()
        : null,
    attention: s.attention ?? null,
    meta,
    memberCount: s.memberCount ?? null,
    lastCycle: s.lastCycle ?? null,
    cyclesCompleted: s.cyclesCompleted,
    totals: s.totals,
    // Meta's view matters once the audience is in sync; before, the sentence about our own state is the one to act on.
    summary: [summarySentence(config.audienceKey, s, state, nextCycleAt), s.lastCycle?.sourceWarning, state === 'synced' ? meta?.attention : undefined]
      .filter(Boolean)
      .join(' '),
  };
}

function summarySentence(key: string, s: CarriedState, state: SyncState, nextCycleAt: string | null): string {
  const next = nextCycleAt ? ` Next cycle at ${nextCycleAt}.` : '';
  switch (state) {
    case 'creating':
      return 'Creating the Custom Audience at Meta.';
    case 'syncing':
      return 'A sync cycle is running.';
    case 'synced':
      return `In sync with ${s.memberCount ?? 0} members.${next}${s.lastCycle?.message ? ` ${s.lastCycle.message}` : ''}`;
    case 'paused':
      return `Paused: no cycles run until \`audience-sync resume ${key}\`.`;
    case 'below_minimum':
    case 'needs_confirmation':
      return `${s.lastCycle?.message ?? 'Nothing was uploaded.'}${next}`;
    case 'needs_attention':
      return (
        `Needs attention: ${s.attention?.reason ?? 'Meta refused our calls.'} ` +
        `The audience is checked once per interval and resumes by itself; after fixing it, ` +
        `\`audience-sync resume ${key}\` retries at once.`
      );
    case 'failed':
      return `The last cycle failed: ${s.lastCycle?.message ?? 'unknown error'} It is tried again at the next cycle.${next}`;
  }
}

/** Each lookalike the connection asked for, as last seen at Meta (or not made yet). */
function lookalikesOf(config: AudienceConfig, s: CarriedState): LookalikeState[] {
  return (config.lookalikes ?? []).map(
    (spec) =>
      s.lookalikes?.find((known) => sameLookalike(known, spec)) ?? {
        ...spec,
        id: null,
        approximateSize: null,
        problem: `It is made once the audience holds ${MIN_LOOKALIKE_SEED} members at Meta.`,
      },
  );
}

/** Meta's range of people in words: "about 1,000–1,100 people", or that Meta gives none yet. */
export function describeSize(size: ApproximateSize): string {
  return size ? `about ${size.lower.toLocaleString('en-US')}–${size.upper.toLocaleString('en-US')} people` : 'no size yet (-1)';
}

/** One line on a lookalike: its id and size at Meta, or why it is not there. */
export function describeLookalike(lookalike: LookalikeState): string {
  const size = lookalike.approximateSize ? `, ${describeSize(lookalike.approximateSize)}` : '';
  const where = lookalike.id ? `${lookalike.id}${size}` : 'not made yet';
  return `lookalike ${lookalikeLabel(lookalike)}: ${where}${lookalike.problem ? `. ${lookalike.problem}` : ''}`;
}

/** Markdown for the Web UI's "Current details"; counts and names only. */
export function renderDetails(status: AudienceStatus): string {
  const lines = [
    `**${status.name}** — \`${status.state}\``,
    `Audience key \`${status.audienceKey}\`, ad account \`${status.adAccountId}\`, ` +
      `Custom Audience ${status.fbAudienceId ? `\`${status.fbAudienceId}\`` : 'not created yet'}.`,
    status.summary,
  ];
  const cycle = status.lastCycle;
  if (cycle) {
    lines.push(
      `Last cycle (${cycle.outcome}, ${cycle.finishedAt}): ${cycle.members} members, ` +
        `+${cycle.added} / −${cycle.removed} rows, ${cycle.dropped} values dropped.`,
    );
  }
  if (status.meta) lines.push(describeMetaView(status.meta));
  for (const lookalike of status.lookalikes) lines.push(describeLookalike(lookalike));
  return lines.join('\n\n');
}

/** Meta's view in one line: its size range and statuses, or why it could not be read. */
export function describeMetaView(meta: NonNullable<AudienceStatus['meta']>): string {
  const status = (label: string, value: { code: number; description: string } | null) =>
    value ? `${label} ${value.code} (${value.description})` : `${label} not given`;
  return (
    `At Meta (read ${meta.readAt}): ${describeSize(meta.approximateSize)}, ${status('delivery', meta.deliveryStatus)}, ` +
    `${status('operation', meta.operationStatus)}.${meta.problem ? ` ${meta.problem}` : ''}`
  );
}
