import type { CycleProgressReport } from '../../../src/client/cycle-progress-report';
import { progressReport as report } from '../../support/progress-report';
import { ProgressLines } from '../../../src/client/progress-display';

describe('ProgressLines', () => {
  const reading = (rows: number) => report({ rows });
  const encoding = report({ stage: 'encoding', rows: 0, totalRows: 1_000 });

  it.each<[string, [CycleProgressReport | null, number][], string[]]>([
    ['prints the first stage at once', [[reading(0), 0]], ['reading the source: 0 rows']],
    ['prints nothing while the workflow runs no cycle step', [[null, 0], [null, 20_000]], []],
    ['keeps quiet within a stage for ten seconds', [[reading(0), 0], [reading(500), 3_000], [reading(900), 9_999]], ['reading the source: 0 rows']],
    [
      'prints a long stage again every ten seconds while it moves',
      [[reading(0), 0], [reading(500), 10_000], [reading(500), 25_000], [reading(900), 26_000]],
      ['reading the source: 0 rows', 'reading the source: 500 rows', 'reading the source: 900 rows'],
    ],
    ['prints a new stage at once', [[reading(0), 0], [encoding, 1_000]], ['reading the source: 0 rows', 'encoding members: 0 of 1,000 rows (0%)']],
    [
      'prints the same stage of the next cycle',
      [[reading(0), 0], [{ ...reading(0), cycleId: 'c2' }, 1_000]],
      ['reading the source: 0 rows', 'reading the source: 0 rows'],
    ],
    [
      'prints a wait for a retry at once',
      [[reading(10), 0], [{ ...reading(10), attempt: 2, retry: { at: null, lastFailure: 'connection reset' } }, 1_000]],
      ['reading the source: 10 rows', 'reading the source: 10 rows; attempt 2 starts; the last one failed: connection reset'],
    ],
  ])('%s', (_case, shown, expected) => {
    const lines: string[] = [];
    const display = new ProgressLines((line) => lines.push(line), 10_000);
    for (const [shownReport, now] of shown) display.show(shownReport, now);
    expect(lines).toEqual(expected);
  });
});
