import { summarizeMembers } from '../../../src/activities/member-chunk-summary';
import { PreviewTally } from '../../../src/client/preview-tally';

const summarize = (records: Record<string, unknown>[], examples = 2) => summarizeMembers({ records }, {}, examples);

describe('PreviewTally', () => {
  it('counts each user_id once however its rows fall into chunks, and the order the chunks finish in', () => {
    const first = summarize([
      { user_id: 'a', email: 'a@example.com', phone: '+12025550101' },
      { user_id: 'b', email: 'not an email' },
      { user_id: null, email: 'nobody@example.com' },
    ]);
    const second = summarize([
      // a again, with another key: the first row of a user_id in the source is the one counted.
      { user_id: 'a', first_name: 'Ann' },
      { user_id: 'c', emails: ['c@example.com', 'c2@example.com'] },
      { user_id: 'b', email: 'b@example.com' },
    ]);
    const tally = new PreviewTally(3);
    tally.add(second, 1);
    tally.add(first, 0);
    expect(tally.result()).toEqual({
      sourceRows: 6,
      members: 2,
      userIdsWithoutRows: 1,
      coverage: { EMAIL: 2, PHONE: 1 },
      drops: { 'EMAIL:invalid_email': 1, 'user_id:missing': 1 },
      dropped: 2,
      duplicateUserIds: { userIds: 2, rows: 4 },
      examples: [
        { userId: 'a', keys: ['EMAIL', 'PHONE'], rows: 1, dropped: [] },
        { userId: 'b', keys: [], rows: 0, dropped: ['EMAIL:invalid_email'] },
        { userId: 'a', keys: ['FN', 'FI'], rows: 1, dropped: [] },
      ],
      dropExamples: { 'EMAIL:invalid_email': ['b'] },
    });
  });

  it('keeps the examples of the earliest chunks, up to the number asked for', () => {
    const tally = new PreviewTally(2);
    tally.add(summarize([{ user_id: 'late', email: 'x' }]), 2);
    tally.add(summarize([{ user_id: 'early', email: 'y' }, { user_id: 'early2', email: 'z' }, { user_id: 'early3' }]), 0);
    tally.add(summarize([{ user_id: 'middle', email: 'w' }]), 1);
    const result = tally.result();
    expect(result.examples.map((example) => example.userId)).toEqual(['early', 'early2']);
    expect(result.dropExamples).toEqual({ 'EMAIL:invalid_email': ['early', 'early2'] });
    expect(result.duplicateUserIds).toEqual({ userIds: 0, rows: 0 });
  });

  it('shows no examples when none are asked for', () => {
    const tally = new PreviewTally(0);
    tally.add(summarizeMembers({ records: [{ user_id: 'a', email: 'bad' }] }, {}, 0), 0);
    expect(tally.result()).toMatchObject({ examples: [], dropExamples: {}, drops: { 'EMAIL:invalid_email': 1 } });
  });
});
