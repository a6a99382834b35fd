import ms from 'ms';
import { LIMITED_DATA_USE_COVERAGE } from '../matching/keys';
import type { CycleRecord } from '../db/sync-cycles';
import type { CycleSummary } from '../workflows/audience-status';
import { describeLookalike, describeMetaView } from '../workflows/status-text';
import type { AudienceListing, AudienceStatusWithProgress } from './audience-client';
import type { AudiencePreview } from './preview-tally';
import { describeProgress } from './progress-text';

export function printJson(value: unknown): void {
  process.stdout.write(`${JSON.stringify(value, null, 2)}\n`);
}

export function formatStatus(status: AudienceStatusWithProgress): string {
  const lines = [
    `${status.audienceKey}: ${status.state}${status.paused && status.state !== 'paused' ? ' (paused)' : ''}`,
    `  ${status.summary}`,
    ...(status.progress ? [`  in progress:     ${describeProgress(status.progress)}`] : []),
    `  name:            ${status.name}${status.pendingRename ? ' (rename pending at Meta)' : ''}`,
    `  ad account:      ${status.adAccountId}`,
    `  custom audience: ${status.fbAudienceId ?? 'not created yet'}${status.adopted ? ' (adopted)' : ''}`,
    `  members:         ${status.memberCount ?? 'not read yet'} (minimum ${status.minSize})`,
    `  next cycle:      ${status.paused ? 'none while paused' : (status.nextCycleAt ?? 'now')}`,
    `  cycles:          ${status.cyclesCompleted} (rows added ${status.totals.added}, removed ${status.totals.removed}` +
      `${status.totals.recreated ? `, audience recreated ${status.totals.recreated}×` : ''}` +
      `${status.totals.replaces ? `, replaced ${status.totals.replaces}×` : ''})`,
  ];
  if (status.valueColumn !== null) lines.push(`  value-based:     each member's value from ${status.valueColumn}`);
  if (status.limitedDataUse !== null) {
    const members = status.lastCycle?.coverage[LIMITED_DATA_USE_COVERAGE] ?? 0;
    lines.push(
      `  limited data use: ${status.limitedDataUse === 'all' ? 'every member' : 'members whose limited_data_use trait is true'}` +
        ` (${members} in the last cycle)`,
    );
  }
  if (status.reconcileEveryMs !== null) {
    lines.push(`  reconciliation:  every ${ms(status.reconcileEveryMs, { long: true })}, next ${status.nextReconcileAt ?? 'counted from the first cycle'}`);
  }
  if (status.meta) lines.push(`  ${describeMetaView(status.meta)}`, `                   ${status.meta.attention ?? status.meta.note}`);
  for (const lookalike of status.lookalikes) lines.push(`  ${describeLookalike(lookalike)}`);
  if (status.lastCycle) lines.push(`  last cycle:      ${formatCycle(status.lastCycle)}`, ...formatMatchKeys(status.lastCycle));
  return lines.join('\n');
}

export function formatCycle(cycle: CycleSummary): string {
  return (
    `${cycle.outcome} at ${cycle.finishedAt}: ${cycle.members} members, ${cycle.adds} to add / ${cycle.removes} to remove, ` +
    `added ${cycle.added}, removed ${cycle.removed}${cycle.replaced ? `, replaced with ${cycle.replaced}` : ''}, ` +
    `${cycle.dropped} values dropped` +
    `${cycle.invalidEntries ? `, ${cycle.invalidEntries} rows Meta found invalid` : ''}` +
    `${cycle.message ? `\n                   ${cycle.message}` : ''}`
  );
}

/** Coverage and drop reasons: what a user needs to see why a match rate is low. */
function formatMatchKeys(cycle: Pick<CycleSummary, 'coverage' | 'drops' | 'members'>): string[] {
  const lines: string[] = [];
  const coverage = Object.entries(cycle.coverage).filter(([key]) => key !== LIMITED_DATA_USE_COVERAGE);
  if (coverage.length > 0) {
    const percent = (count: number) => (cycle.members ? Math.round((100 * count) / cycle.members) : 0);
    lines.push(`  match keys:      ${coverage.map(([key, count]) => `${key} ${percent(count)}%`).join(', ')}`);
  }
  const drops = Object.entries(cycle.drops).sort((a, b) => b[1] - a[1]);
  if (drops.length > 0) lines.push(`  dropped values:  ${drops.map(([label, count]) => `${label} ${count}`).join(', ')}`);
  return lines;
}

/**
 * What `preview` (and `connect`, before it starts the workflow) shows of the audience's query: counts, key names
 * and user ids, never a value. With `minSize`, whether the first cycle would upload.
 */
export function formatPreview(preview: AudiencePreview, minSize?: number): string {
  const leftOut = preview.userIdsWithoutRows
    ? `; ${plural(preview.userIdsWithoutRows, 'user_id')} left out, with nothing Meta can use`
    : '';
  const members = `${plural(preview.sourceRows, 'row')}: ${plural(preview.members, 'member')}${leftOut}`;
  const lines = [`The query returns ${members}. Nothing was created.`, ...formatMatchKeys(preview)];
  // In the order of the dropped values above them: the most frequent first.
  const dropExamples = Object.entries(preview.dropExamples)
    .sort(([a], [b]) => (preview.drops[b] ?? 0) - (preview.drops[a] ?? 0))
    .map(([label, userIds]) => `${label} ${userIds.join(', ')}`);
  if (dropExamples.length > 0) lines.push(`  dropped from:    ${dropExamples.join('; ')}`);
  const { userIds, rows } = preview.duplicateUserIds;
  if (userIds > 0) lines.push(`  duplicate ids:   ${plural(userIds, 'user_id')} on ${rows} rows; a cycle keeps one row of each`);
  if (preview.coverage[LIMITED_DATA_USE_COVERAGE]) {
    lines.push(`  limited data use: ${preview.coverage[LIMITED_DATA_USE_COVERAGE]} members`);
  }
  if (minSize !== undefined && preview.members < minSize) {
    lines.push(`  minimum size:    ${minSize}: cycles upload nothing until the query yields that many members`);
  }
  preview.examples.forEach((example, n) => {
    const keys = example.rows > 0 ? `${example.keys.join(', ')} (${plural(example.rows, 'row')})` : 'left out, nothing Meta can use';
    const dropped = example.dropped.length > 0 ? `; dropped ${example.dropped.join(', ')}` : '';
    lines.push(`  ${n === 0 ? 'examples:' : ''}`.padEnd(19) + `${example.userId}: ${keys}${dropped}`);
  });
  if (preview.sourceWarning) lines.push(`  ${preview.sourceWarning}`);
  return lines.join('\n');
}

export function formatList(listings: AudienceListing[]): string {
  if (listings.length === 0) return 'No audiences are connected.';
  const rows = listings.map((item) => [
    item.audienceKey,
    item.workflowStatus === 'RUNNING' ? (item.state ?? '') : item.workflowStatus.toLowerCase(),
    item.memberCount === null ? '' : String(item.memberCount),
    item.lastSyncAt ?? '',
    item.adAccountId ?? '',
  ]);
  return table(['AUDIENCE', 'STATE', 'MEMBERS', 'LAST SYNC', 'AD ACCOUNT'], rows);
}

export function formatHistory(cycles: CycleRecord[]): string {
  if (cycles.length === 0) return 'No cycles recorded yet.';
  const rows = cycles.map((cycle) => [
    cycle.startedAt.toISOString(),
    cycle.finishedAt ? `${((cycle.finishedAt.getTime() - cycle.startedAt.getTime()) / 1000).toFixed(1)}s` : '',
    cycle.outcome,
    String(cycle.members ?? ''),
    String(cycle.adds ?? ''),
    String(cycle.removes ?? ''),
    String(cycle.added),
    String(cycle.removed),
    cycle.replaced ? String(cycle.replaced) : '',
    String(cycle.coverage?.[LIMITED_DATA_USE_COVERAGE] ?? ''),
    String(cycle.dropped ?? ''),
    cycle.message ?? '',
  ]);
  return table(['STARTED', 'TOOK', 'OUTCOME', 'MEMBERS', 'ADDS', 'REMOVES', 'ADDED', 'REMOVED', 'REPLACED', 'LDU', 'DROPPED', 'MESSAGE'], rows);
}

function plural(count: number, noun: string): string {
  return `${count} ${noun}${count === 1 ? '' : 's'}`;
}

function table(header: string[], rows: string[][]): string {
  const widths = header.map((title, column) => Math.max(title.length, ...rows.map((row) => row[column].length)));
  const line = (cells: string[]) =>
    cells
      .map((cell, column) => (column === cells.length - 1 ? cell : cell.padEnd(widths[column])))
      .join('  ')
      .trimEnd();
  return [line(header), ...rows.map(line)].join('\n');
}
