import { ADVISED_MAX_WAL_BYTES, slowFirstLoadHints } from '../../../src/db/server-settings';

const GB = 1024 ** 3;

describe('hints about PostgreSQL settings that slow a large first load', () => {
  it.each([
    ['the default 1 GB', GB, /max_wal_size is 1 GB: .*0.7 kB of WAL a member, so one of more than 1,500,000 members makes it checkpoint while it loads; 8 GB or more avoids that/],
    ['512 MB', GB / 2, /max_wal_size is 512 MB: .* more than 800,000 members/],
    ['just under the advice', ADVISED_MAX_WAL_BYTES - 1024 ** 2, /max_wal_size is 8 GB: .* more than 12,300,000 members/],
  ])('says so for max_wal_size = %s', (_case, bytes, sentence) => {
    const hints = slowFirstLoadHints([{ name: 'max_wal_size', bytes }]);
    expect(hints).toHaveLength(1);
    expect(hints[0]).toMatch(sentence);
  });

  it.each([
    ['the advised 8 GB', ADVISED_MAX_WAL_BYTES],
    ['64 GB', 64 * GB],
  ])('says nothing for max_wal_size = %s', (_case, bytes) => {
    expect(slowFirstLoadHints([{ name: 'max_wal_size', bytes }])).toEqual([]);
  });

  it('says nothing when the setting could not be read', () => {
    expect(slowFirstLoadHints([])).toEqual([]);
  });
});
