import { randomUUID } from 'node:crypto';
import { AUDIENCE_NO } from '../support/audience-number';
import { inTransaction, SCHEMA } from '../../src/db/pool';
import { createCycleTables, createStaging, cycleTables, type CycleTables } from '../../src/db/cycle-tables';
import { encodeMembers } from '../../src/activities/member-chunk-encoding';
import { CALLING_THREAD_ENCODER, type MemberEncoder } from '../../src/activities/member-encoder';
import type { CyclePlan, PrepareCycleInput } from '../../src/activities/cycle-preparation';
import { audienceMembership } from '../../src/db/member-changes';
import { PreparationHarness, DATABASE_URL } from '../support/preparation-harness';
import { testReaderUrl } from '../support/source-reader';
import { waitUntil } from '../../src/local/polling';

/** prepareCycle's staging against the real database. */
const harness = new PreparationHarness();
let readerUrl: string;

beforeAll(async () => {
  await harness.start();
  readerUrl = await testReaderUrl(harness.pool, DATABASE_URL, { tables: [] });
});

afterAll(() => harness.stop());

/**
 * `prepare` for a reader whose cycle `cycleId` calls `inspect` on its working tables just before its plan drops
 * them (as a plan does once committed); `found()` is what `inspect` returned then. `inspect` may also act on them.
 */
function inspectingBeforeDrop<T>(cycleId: string, inspect: (tables: CycleTables) => Promise<T>) {
  return inspectingBefore(cycleId, inspect, async (text, tables) => {
    if (!text.startsWith('DROP TABLE') || !text.includes(tables.staging)) return false;
    // An attempt also drops its cycle's tables before creating them afresh: only the plan's drop finds them.
    const { rows } = await harness.pool.query<{ created: boolean }>('SELECT to_regclass($1) IS NOT NULL AS created', [
      tables.fingerprints,
    ]);
    return rows[0]?.created ?? false;
  });
}

/** The staging as pass 2 left it: a first load empties it as it stores it. */
function inspectingBeforeFirstLoad<T>(cycleId: string, inspect: (tables: CycleTables) => Promise<T>) {
  // The load's first look at the audience, the one that takes no lock.
  return inspectingBefore(cycleId, inspect, async (text) => text.includes('AS possible') && !text.includes('FOR SHARE'));
}

function inspectingBefore<T>(
  cycleId: string,
  inspect: (tables: CycleTables) => Promise<T>,
  isStatement: (text: string, tables: CycleTables) => Promise<boolean>,
) {
  const tables = cycleTables(cycleId);
  let found: T | undefined;
  const { prepare } = harness.source({
    url: readerUrl,
    beforeStatement: async (text) => {
      if (await isStatement(text, tables)) found = await inspect(tables);
    },
  });
  return { prepare, found: () => found };
}

it('fails the cycle when a chunk of members could not be encoded, even while the next chunk is being read', async () => {
  let calls = 0;
  // The second chunk fails at once, while the source's third chunk is still being read: nothing waits on it then.
  const encoder: MemberEncoder = {
    ...CALLING_THREAD_ENCODER,
    parallelism: 2,
    encode: async (chunk, options) => {
      calls++;
      if (calls === 2) throw new Error('the hashing thread ended');
      return encodeMembers(chunk, options);
    },
  };
  // Some 1.7 MB of source rows: several chunks of COPY text.
  const { prepare } = harness.source({ url: readerUrl, encoder });
  await expect(
    prepare(
      `SELECT g::text AS user_id, 'person' || g || '@example.com' AS email, repeat('x', 300) AS note
         FROM generate_series(1, 5000) AS g`,
    ),
  ).rejects.toThrow('the hashing thread ended');
  expect(calls).toBeGreaterThanOrEqual(2);
});

it('stages every member when some source rows are longer than a chunk of COPY text', async () => {
  // Three rows of 1.2 MB (two of them adjacent) among short ones: each spans many pieces of the COPY stream.
  const { prepare } = harness.source({ url: readerUrl });
  const { audienceKey, plan } = await prepare(
    `SELECT g::text AS user_id, 'person' || g || '@example.com' AS email,
            CASE WHEN g IN (10, 1500, 1501) THEN repeat('x', 1200000) ELSE 'short' END AS note
       FROM generate_series(1, 3000) AS g`,
  );
  expect(plan).toMatchObject({ members: 3000, sourceRows: 3000, adds: 3000, removes: 0 });
  const { rows } = await harness.pool.query<{ members: string }>(
    `SELECT count(*) AS members FROM ${SCHEMA}.audience_members WHERE audience_no = ${AUDIENCE_NO} AND length(row_hashes) = 32`,
    [audienceKey],
  );
  expect(Number(rows[0]?.members)).toBe(3000);
});

it('rebuilds exactly the listed members of a later cycle, whatever their ids hold', async () => {
  // Ids that the id list written into pass 2's COPY must carry through intact: quotes, backslashes, braces,
  // commas, dollar quotes (the constant's own tag among them), spaces, NULL-like text and non-Latin letters.
  const tricky = ['plain', "o'neil", 'back\\slash', 'q"uote', '{brace}', 'a,b', '$c0$', 'a$c0', ' spaced ', 'NULL', '東京', 'é'];
  const ids = [...tricky, ...Array.from({ length: 100 }, (_, i) => `p${i}`)];
  // The tricky members change their email in the second cycle: a tenth of the audience, so only they are read.
  const source = (changed: string) =>
    `SELECT t.id AS user_id, 'm' || t.ord || CASE WHEN t.ord <= ${tricky.length} THEN '${changed}' ELSE '' END || '@example.com' AS email
       FROM jsonb_array_elements_text($j$${JSON.stringify(ids)}$j$::jsonb) WITH ORDINALITY AS t(id, ord)`;
  const { prepare } = harness.source({ url: readerUrl });
  const first = await prepare(source('a'));
  expect(first.plan).toMatchObject({ members: ids.length, rebuiltMembers: ids.length });
  const second = await prepare(source('b'), first.audienceKey);
  expect(second.plan).toMatchObject({ members: ids.length, rebuiltMembers: tricky.length });
});

it('sees a change in any column, even when the audience has a column named s', async () => {
  const source = (changed: number) =>
    `SELECT 'u' || g AS user_id, 'm' || g || CASE WHEN g = ${changed} THEN '.new' ELSE '' END || '@example.com' AS email,
            'same' AS s
       FROM generate_series(1, 50) AS g`;
  const { prepare } = harness.source({ url: readerUrl });
  const first = await prepare(source(0));
  const second = await prepare(source(7), first.audienceKey);
  expect(second.plan).toMatchObject({ members: 50, sourceRows: 50, rebuiltMembers: 1 });
});

it('plans the removal of members who only left the source, none of whom pass 2 reads', async () => {
  const source = (members: number) =>
    `SELECT 'u' || g AS user_id, 'm' || g || '@example.com' AS email FROM generate_series(1, ${members}) AS g`;
  const { prepare } = harness.source({ url: readerUrl });
  const first = await prepare(source(120));
  // The harness uploads nothing: the first load's rows are still to add, and the leavers' are dropped from them.
  const { plan } = await prepare(source(115), first.audienceKey);
  expect(plan).toMatchObject({ decision: 'upload', members: 115, sourceRows: 115, rebuiltMembers: 0, adds: 115, removes: 0 });
});

it("writes the cycle's fingerprints frozen, so that the comparison reading them writes nothing", async () => {
  // A tuple's infomask has both XMIN bits set when it is frozen; hint bits that a reader sets give only one.
  const XMIN_FROZEN = 0x0300;
  await harness.pool.query('CREATE EXTENSION IF NOT EXISTS pageinspect');
  const source = (changed: number) =>
    `SELECT 'u' || g AS user_id, 'm' || g || CASE WHEN g <= ${changed} THEN '.new' ELSE '' END || '@example.com' AS email
       FROM generate_series(1, 3000) AS g`;
  const cycleId = randomUUID();
  const { prepare, found } = inspectingBeforeDrop(cycleId, async ({ fingerprints }) => {
    const { rows } = await harness.pool.query<{ tuples: string; frozen: string }>(
      `SELECT count(*) AS tuples, count(*) FILTER (WHERE t.t_infomask & ${XMIN_FROZEN} = ${XMIN_FROZEN}) AS frozen
         FROM generate_series(0, pg_relation_size($1::regclass) / current_setting('block_size')::int - 1) AS page,
              heap_page_items(get_raw_page($1::text, page::int)) AS t
        WHERE t.lp_flags = 1`,
      [fingerprints],
    );
    return rows[0];
  });
  const first = await prepare(source(0));
  const { plan } = await prepare(source(30), first.audienceKey, { cycleId });
  expect(plan).toMatchObject({ decision: 'upload', rebuiltMembers: 30 });
  expect(Number(found()?.tuples)).toBe(3000);
  expect(found()?.frozen).toBe(found()?.tuples);
});

it('stages the members apart and each row in the range of its hash, the ranges in hash order', async () => {
  const cycleId = randomUUID();
  const { prepare, found } = inspectingBeforeFirstLoad(cycleId, async (tables) => {
    const staged = await harness.pool.query<{ members: string; rows: string }>(
      `SELECT count(*) FILTER (WHERE row_hash IS NULL) AS members, count(*) FILTER (WHERE row_hash IS NOT NULL) AS rows
         FROM ${tables.stagedMembers}`,
    );
    const ranges = [];
    for (const range of tables.stagedRows) {
      const { rows } = await harness.pool.query<{ first: Buffer; last: Buffer; rows: string }>(
        `SELECT (SELECT row_hash FROM ${range} ORDER BY row_hash LIMIT 1) AS first,
                (SELECT row_hash FROM ${range} ORDER BY row_hash DESC LIMIT 1) AS last,
                (SELECT count(*) FROM ${range}) AS rows`,
      );
      ranges.push(rows[0]);
    }
    return { members: staged.rows[0], ranges };
  });
  const { plan, audienceKey } = await prepare(
    `SELECT 'u' || g AS user_id, 'm' || g || '@example.com' AS email FROM generate_series(1, 3000) AS g`,
    undefined,
    { cycleId },
  );
  expect(plan).toMatchObject({ decision: 'upload', rebuiltMembers: 3000 });
  expect(found()?.members).toEqual({ members: '3000', rows: '0' });
  let rowsInRanges = 0;
  let lastOfPrevious: Buffer | undefined;
  for (const range of found()?.ranges ?? []) {
    // 3000 uniform hashes in 32 ranges: an empty range would be a bound out of place.
    expect(Number(range.rows)).toBeGreaterThan(0);
    if (lastOfPrevious) expect(Buffer.compare(lastOfPrevious, range.first)).toBeLessThan(0);
    lastOfPrevious = range.last;
    rowsInRanges += Number(range.rows);
  }
  const stored = await harness.pool.query<{ rows: string }>(
    `SELECT count(*) AS rows FROM ${SCHEMA}.audience_rows WHERE audience_no = ${AUDIENCE_NO}`,
    [audienceKey],
  );
  expect(rowsInRanges).toBe(Number(stored.rows[0].rows));
  expect(rowsInRanges).toBe(plan.adds);
});

describe('an attempt whose audience a later attempt claimed meanwhile', () => {
  /**
   * `prepare` for a reader whose audience `audienceKey` is claimed by another attempt just before the cycle's
   * `check`-th look at its own claim (counting from 1): what a retry does while this attempt still runs.
   */
  function claimedBefore(audienceKey: string, check: number) {
    let checks = 0;
    return harness.source({
      url: readerUrl,
      beforeStatement: async (text) => {
        if (!text.includes('SELECT load_attempt') || ++checks !== check) return;
        await harness.pool.query(`UPDATE ${SCHEMA}.audiences SET load_attempt = $2 WHERE audience_key = $1`, [
          audienceKey,
          randomUUID(),
        ]);
      },
    }).prepare;
  }
  const members = `SELECT 'u' || g AS user_id, 'm' || g || '@example.com' AS email FROM generate_series(1, 300) AS g`;
  const tenChanged = `SELECT 'u' || g AS user_id, 'm' || g || CASE WHEN g <= 10 THEN '.new' ELSE '' END || '@example.com' AS email
                        FROM generate_series(1, 300) AS g`;
  const claimLost = 'was claimed by a later attempt meanwhile';
  const rowsIn = async (table: string) => (await harness.pool.query(`SELECT 1 FROM ${table}`)).rowCount;
  const planned = async (cycleId: string) =>
    (await harness.pool.query(`SELECT 1 FROM ${SCHEMA}.sync_cycles WHERE cycle_id = $1 AND adds IS NOT NULL`, [cycleId])).rowCount;

  it('creates no staging, or takes back what its pass 2 staged, and loads nothing', async () => {
    // A first cycle looks at its claim as it creates the staging, as pass 2 commits, as it loads and as it plans.
    for (const check of [1, 2]) {
      const audienceKey = await harness.newAudience();
      const cycleId = randomUUID();
      await expect(claimedBefore(audienceKey, check)(members, audienceKey, { cycleId })).rejects.toThrow(claimLost);
      const { rows } = await harness.pool.query<{ created: boolean }>('SELECT to_regclass($1) IS NOT NULL AS created', [
        cycleTables(cycleId).staging,
      ]);
      if (check === 1) expect(rows[0].created).toBe(false);
      else expect(await rowsIn(cycleTables(cycleId).staging)).toBe(0);
      const loaded = await harness.pool.query(`SELECT 1 FROM ${SCHEMA}.audience_members WHERE audience_no = ${AUDIENCE_NO}`, [
        audienceKey,
      ]);
      expect(loaded.rowCount).toBe(0);
    }
  });

  it('takes back each step of a delta it took since the claim, and plans nothing', async () => {
    const { audienceKey } = await harness.source({ url: readerUrl }).prepare(members);
    // A delta looks at its claim as pass 1 commits, as it compares, as it creates the staging, as pass 2 commits and
    // as it plans: what each of these would have written is not there.
    const leftEmpty: [number, (tables: CycleTables) => string][] = [
      [1, (tables) => tables.fingerprints],
      [2, (tables) => tables.changed],
      [4, (tables) => tables.staging],
    ];
    for (const [check, table] of leftEmpty) {
      const cycleId = randomUUID();
      await expect(claimedBefore(audienceKey, check)(tenChanged, audienceKey, { cycleId })).rejects.toThrow(claimLost);
      expect(await rowsIn(table(cycleTables(cycleId)))).toBe(0);
      expect(await planned(cycleId)).toBe(0);
    }
    const cycleId = randomUUID();
    await expect(claimedBefore(audienceKey, 5)(tenChanged, audienceKey, { cycleId })).rejects.toThrow(claimLost);
    expect(await rowsIn(cycleTables(cycleId).staging)).toBeGreaterThan(0);
    expect(await planned(cycleId)).toBe(0);
  });

  // Eight preparations (each case's attempt and its retry, and a first load before each delta) took over jest's 5 s
  // in a CI run (2026-12-07); three lock waits of up to 10 s each then still report their own error.
  it("has a retry's own claim wait for a pass's COPY to commit, then drop what it wrote, without a deadlock", async () => {
    // The COPY's check comes just after its cycle's retry, run for real, has taken the audience's record and is
    // waiting to drop the tables the COPY holds. A first cycle's pass 2, a delta's pass 1 and its pass 2; the delta
    // rebuilds the ten members that changed, and adds every row, as none of the first cycle's was sent.
    const cases: { check: number; delta: boolean; rebuiltMembers: number }[] = [
      { check: 2, delta: false, rebuiltMembers: 300 },
      { check: 1, delta: true, rebuiltMembers: 10 },
      { check: 4, delta: true, rebuiltMembers: 10 },
    ];
    for (const { check, delta, rebuiltMembers } of cases) {
      const audienceKey = delta ? (await harness.source({ url: readerUrl }).prepare(members)).audienceKey : await harness.newAudience();
      const sql = delta ? tenChanged : members;
      const cycleId = randomUUID();
      let retry: Promise<{ plan: CyclePlan }> | undefined;
      let checks = 0;
      let checked = false;
      let afterCheck: string | undefined;
      const stale = harness.source({
        url: readerUrl,
        beforeStatement: async (text) => {
          if (checked) afterCheck ??= text;
          if (!text.includes('SELECT load_attempt') || ++checks !== check) return;
          retry = harness.source({ url: readerUrl }).prepare(sql, audienceKey, { cycleId });
          retry.catch(() => undefined);
          await waitingToDrop(cycleTables(cycleId));
          checked = true;
        },
      }).prepare;
      await expect(stale(sql, audienceKey, { cycleId })).rejects.toThrow(claimLost);
      // The claim was not yet to be seen: the COPY committed, and a later step of the attempt found it.
      expect(afterCheck).toBe('COMMIT');
      const { plan } = await (retry as Promise<{ plan: CyclePlan }>);
      expect(plan).toMatchObject({ decision: 'upload', members: 300, adds: 300, removes: 0, rebuiltMembers });
      const stored = await harness.pool.query(`SELECT 1 FROM ${SCHEMA}.audience_members WHERE audience_no = ${AUDIENCE_NO}`, [
        audienceKey,
      ]);
      expect(stored.rowCount).toBe(300);
    }
  }, 60_000);

  /** Until a session waits for a lock to drop the cycle's tables, as a claim does that another holds them from. */
  function waitingToDrop(tables: CycleTables): Promise<boolean> {
    return waitUntil(async () => {
      const { rowCount } = await harness.pool.query(
        `SELECT 1 FROM pg_stat_activity WHERE wait_event_type = 'Lock' AND query LIKE 'DROP TABLE%' AND strpos(query, $1) > 0`,
        [tables.fingerprints],
      );
      return (rowCount ?? 0) > 0;
    }, 10_000);
  }
});

it("counts a first load's membership as pass 2 staged it, and over the members kept when a user_id is listed twice", async () => {
  // Every third member has a phone, every seventh no email: without a phone too, it has no row and is no member.
  const distinct = `SELECT 'u' || g AS user_id, CASE WHEN g % 7 <> 0 THEN 'm' || g || '@example.com' END AS email,
                           CASE WHEN g % 3 = 0 THEN '+1 202 555 ' || lpad(g::text, 4, '0') END AS phone, g AS ltv
                      FROM generate_series(1, 300) AS g`;
  // u5 again, with a phone and no email: one of its two copies is kept, either.
  const twice = `${distinct} UNION ALL SELECT 'u5', NULL, '+1 202 555 0005', 5`;
  let countedInPlan = 0;
  const { prepare } = harness.source({
    url: readerUrl,
    beforeStatement: async (text) => {
      if (text.includes('FILTER (WHERE length(row_hashes) > 0)')) countedInPlan++;
    },
  });
  const runs: [string, Partial<PrepareCycleInput>, number][] = [
    [distinct, {}, 0],
    [twice, {}, 1],
    [distinct, { limitedDataUse: 'all', valueColumn: 'ltv' }, 0],
  ];
  let plan: CyclePlan | undefined;
  for (const [sql, options, counts] of runs) {
    countedInPlan = 0;
    let audienceKey: string;
    ({ audienceKey, plan } = await prepare(sql, undefined, options));
    const stored = await audienceMembership(harness.pool, audienceKey);
    expect({ members: plan.members, coverage: plan.coverage }).toEqual(stored);
    // The members are counted again only where the load kept fewer than it staged.
    expect(countedInPlan).toBe(counts);
    expect(stored.members).toBe(272);
    expect((stored.coverage.EMAIL ?? 0) + (stored.coverage.PHONE ?? 0)).toBe(358);
  }
  // Limited Data Use and a value are counted too.
  expect(plan?.coverage).toMatchObject({ EMAIL: 258, PHONE: 100, LDU: 300, LOOKALIKE_VALUE: 272 });
});

it('drops the cycle\'s working tables when it commits a plan to upload: the upload reads none of them', async () => {
  const { prepare } = harness.source({ url: readerUrl });
  const { plan } = await prepare(`SELECT 'u' || g AS user_id, 'm' || g || '@example.com' AS email FROM generate_series(1, 300) AS g`);
  expect(plan).toMatchObject({ decision: 'upload', adds: 300 });
  expect(await tablesLeft(plan.cycleId)).toEqual([]);
});

it("commits the plan all the same when the cycle's tables cannot be dropped at once, and leaves them to the upload", async () => {
  const cycleId = randomUUID();
  const tables = cycleTables(cycleId);
  // An earlier attempt of the cycle, still reading the staging: here a transaction that holds a lock on it.
  const earlierAttempt = await harness.pool.connect();
  const { prepare } = inspectingBeforeDrop(cycleId, ({ staging }) =>
    earlierAttempt.query(`BEGIN; LOCK TABLE ${staging} IN ACCESS SHARE MODE`),
  );
  try {
    const { plan } = await prepare(
      `SELECT 'u' || g AS user_id, 'm' || g || '@example.com' AS email FROM generate_series(1, 300) AS g`,
      undefined,
      { cycleId },
    );
    expect(plan).toMatchObject({ cycleId, decision: 'upload', adds: 300 });
    const { rows } = await harness.pool.query<{ left: boolean }>('SELECT to_regclass($1) IS NOT NULL AS left', [tables.staging]);
    expect(rows[0]?.left).toBe(true);
  } finally {
    await earlierAttempt.query('ROLLBACK');
    earlierAttempt.release();
  }
});

it('drops the working tables ended cycles left, and those of cycles running for a day, not of a cycle running now', async () => {
  const { prepare } = harness.source({ url: readerUrl });
  const [audienceKey, otherAudience, busyAudience] = [await harness.newAudience(), await harness.newAudience(), await harness.newAudience()];
  const cycles = {
    crashed: { audienceKey, outcome: 'running', startedDaysAgo: 0 },
    ended: { audienceKey: otherAudience, outcome: 'synced', startedDaysAgo: 0 },
    // Of a workflow terminated two days ago: no cycle of its audience will abandon it.
    forsaken: { audienceKey: otherAudience, outcome: 'running', startedDaysAgo: 2 },
    running: { audienceKey: busyAudience, outcome: 'running', startedDaysAgo: 0 },
  };
  const ids = Object.fromEntries(Object.keys(cycles).map((name) => [name, randomUUID()])) as Record<keyof typeof cycles, string>;
  for (const [name, cycle] of Object.entries(cycles)) {
    const cycleId = ids[name as keyof typeof cycles];
    harness.cycleIds.push(cycleId);
    await harness.pool.query(
      `INSERT INTO ${SCHEMA}.sync_cycles (cycle_id, audience_key, outcome, started_at) VALUES ($1, $2, $3, now() - $4 * interval '1 day')`,
      [cycleId, cycle.audienceKey, cycle.outcome, cycle.startedDaysAgo],
    );
    await inTransaction(harness.pool, async (client) => {
      await createCycleTables(client, cycleTables(cycleId));
      await createStaging(client, cycleTables(cycleId), false);
    });
  }
  // The crashed cycle is its audience's: this cycle abandons it.
  await prepare(`SELECT 'u' || g AS user_id, 'm' || g || '@example.com' AS email FROM generate_series(1, 150) AS g`, audienceKey);
  const left = async (cycleId: string) => (await tablesLeft(cycleId)).length;
  const found = Object.fromEntries(await Promise.all(Object.entries(ids).map(async ([name, cycleId]) => [name, await left(cycleId)])));
  expect(found).toEqual({ crashed: 0, ended: 0, forsaken: 0, running: 3 });
});

it('plans again when an earlier attempt of the cycle ended it, the tables it creates afresh kept from any sweep', async () => {
  const { prepare } = harness.source({ url: readerUrl });
  const sql = `SELECT 'u' || g AS user_id, 'm' || g || '@example.com' AS email FROM generate_series(1, 150) AS g`;
  const { audienceKey } = await prepare(sql);
  const cycleId = randomUUID();
  // A delta: the retry reads the source into its fingerprints table, which a sweep of ended cycles would drop.
  const ended = await prepare(sql, audienceKey, { cycleId, minSize: 1000 });
  expect(ended.plan.decision).toBe('below_minimum');
  const retried = await prepare(sql, audienceKey, { cycleId, minSize: 1000 });
  // The same plan, made anew, and the cycle ended again.
  expect(retried.plan).toEqual({ ...ended.plan, generation: ended.plan.generation + 1 });
  const { rows } = await harness.pool.query(`SELECT outcome, finished_at IS NOT NULL AS finished FROM ${SCHEMA}.sync_cycles WHERE cycle_id = $1`, [
    cycleId,
  ]);
  expect(rows).toEqual([{ outcome: 'below_minimum', finished: true }]);
});

/** Which of a cycle's working tables exist. */
async function tablesLeft(cycleId: string): Promise<string[]> {
  const tables = cycleTables(cycleId);
  const { rows } = await harness.pool.query<{ left: string[] }>(
    `SELECT array_remove(ARRAY[to_regclass($1), to_regclass($2), to_regclass($3)]::text[], NULL) AS left`,
    [tables.fingerprints, tables.changed, tables.staging],
  );
  return rows[0]?.left ?? [];
}
