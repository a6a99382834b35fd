import { createPool } from '../../src/db/pool';
import { readServerSettings } from '../../src/db/server-settings';
import { DATABASE_URL } from '../support/preparation-harness';

const pool = createPool(DATABASE_URL);
afterAll(() => pool.end());

it("reads the server's max_wal_size in bytes, as SHOW gives it", async () => {
  const shown = (await pool.query<{ max_wal_size: string }>('SHOW max_wal_size')).rows[0]?.max_wal_size as string;
  const [value, unit] = [Number.parseInt(shown, 10), shown.replace(/^\d+/, '')];
  const bytes = value * ({ MB: 1024 ** 2, GB: 1024 ** 3, TB: 1024 ** 4 } as Record<string, number>)[unit]!;
  expect(await readServerSettings(pool)).toEqual([{ name: 'max_wal_size', bytes }]);
});
