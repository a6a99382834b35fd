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

it('plans every statement of the state pool with random_page_cost 1.1, the lookups in key order that it makes', async () => {
  const shown = await Promise.all([1, 2, 3].map(() => pool.query<{ random_page_cost: string }>('SHOW random_page_cost')));
  expect(shown.map((result) => result.rows[0].random_page_cost)).toEqual(['1.1', '1.1', '1.1']);
});
