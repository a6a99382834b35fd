import { ApplicationFailure } from '@temporalio/common';
import { callForAdAccount } from '../../src/activities/ad-account-gate';
import { createPool, SCHEMA } from '../../src/db/pool';
import { migrate } from '../../src/db/migrations';
import { FailureType } from '../../src/workflows/failure-types';
import { AD_ACCOUNT, EmulatorTestKit, graphErrorOf, personRow, usersBatch, SCHEMA as ROW_SCHEMA } from '../emulator/emulator-test-kit';
import { DATABASE_URL } from '../support/preparation-harness';
import { recordedMetrics } from '../support/recorded-metrics';

/**
 * Meta's throttling of an ad account, as every activity meets it: the account is blocked for the wait Meta asks,
 * every call for it waits instead of calling, and each wait is counted for audience_sync_throttle_wait_seconds.
 */
const pool = createPool(DATABASE_URL);
const kit = new EmulatorTestKit('ad_account_gate');

beforeAll(async () => {
  await migrate(pool);
  await kit.start();
});

afterAll(async () => {
  await pool.query(`DELETE FROM ${SCHEMA}.ad_account_throttles WHERE ad_account_id = $1`, [AD_ACCOUNT]);
  await kit.stop();
  await pool.end();
});

it("blocks the ad account for Meta's wait, holds later calls back, and counts every wait", async () => {
  const metrics = recordedMetrics();
  const gate = { pool, metrics };
  const id = await kit.createAudience();
  await kit.admin('POST', '/_emulator/faults', { fault: 'throttle', code: 80003, retryAfterMinutes: 2, nextCalls: 1 });
  const send = () => kit.client.addUsers(id, usersBatch(ROW_SCHEMA, [personRow(1)]));

  expect(await graphErrorOf(callForAdAccount(gate, AD_ACCOUNT, send))).toMatchObject({ kind: 'throttled', retryAfterMs: 120_000 });
  const callsBefore = (await kit.admin<unknown[]>('GET', '/_emulator/calls')).length;
  const held = await callForAdAccount(gate, AD_ACCOUNT, send).catch((error: unknown) => error);
  expect(held).toBeInstanceOf(ApplicationFailure);
  expect(held).toMatchObject({ type: FailureType.Throttled, category: 'BENIGN' });
  expect((held as ApplicationFailure).nextRetryDelay).toBeGreaterThan(110_000);
  // Held back without calling Meta, which would extend the block.
  expect((await kit.admin<unknown[]>('GET', '/_emulator/calls')).length).toBe(callsBefore);

  const waits = metrics.recorded.filter((recorded) => recorded.metric === 'throttleWait').map((recorded) => recorded.args);
  expect(waits).toEqual([
    [AD_ACCOUNT, 120],
    [AD_ACCOUNT, expect.any(Number)],
  ]);
  expect(waits[1]?.[1]).toBeGreaterThan(110);
});
