import type { AudienceConfig } from './audience-config';
import type { AudienceStatus, CarriedState, SyncState } from './audience-status';
import { lookalikeLabel, MIN_LOOKALIKE_SEED, sameLookalike, type LookalikeState } from './lookalike-spec';

/** The status query's answer, with one sentence that tells an operator what is going on and what to do. */
export function describeStatus(config: AudienceConfig, s: CarriedState, state: SyncState): AudienceStatus {
  const nextCycleAt = s.nextCycleAt === undefined ? null : new Date(s.nextCycleAt).toISOString();
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
    memberCount: s.memberCount ?? null,
    lastCycle: s.lastCycle ?? null,
    cyclesCompleted: s.cyclesCompleted,
    totals: s.totals,
    summary: [summarySentence(config.audienceKey, s, state, nextCycleAt), s.lastCycle?.sourceWarning]
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

/** One line on a lookalike: its id and size at Meta, or why it is not there. */
export function describeLookalike(lookalike: LookalikeState): string {
  const size = lookalike.approximateSize ? `, about ${lookalike.approximateSize.lower}–${lookalike.approximateSize.upper} people` : '';
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
  for (const lookalike of status.lookalikes) lines.push(describeLookalike(lookalike));
  return lines.join('\n\n');
}
