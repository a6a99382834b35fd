import { ApplicationFailure } from '@temporalio/activity';
import { GraphApiError } from '../facebook/graph-error';
import { adAccountBlockedForMs, blockAdAccount } from '../db/ad-account-throttles';
import { FailureType } from '../workflows/failure-types';
import { graphFailure } from './graph-failures';
import type { ActivityDependencies } from './dependencies';

/** What a call on behalf of an ad account needs: the shared record of throttled accounts, and the metrics. */
type Gate = Pick<ActivityDependencies, 'pool' | 'metrics'>;

/**
 * Calls Meta on behalf of an ad account, honouring and recording Meta's requests to pause. Meta counts calls per
 * ad account and "continued calls extend the block", so once any call is throttled every activity of every
 * audience in that account waits (through its retry delay) instead of calling. Graph errors propagate unchanged.
 */
export async function callForAdAccount<T>(gate: Gate, adAccountId: string, call: () => Promise<T>): Promise<T> {
  const blockedForMs = await adAccountBlockedForMs(gate.pool, adAccountId);
  if (blockedForMs > 0) {
    gate.metrics.throttleWait(adAccountId, blockedForMs / 1000);
    throw ApplicationFailure.create({
      type: FailureType.Throttled,
      message: `Meta asked for a pause in calls to ad account ${adAccountId}; waiting ${Math.ceil(blockedForMs / 1000)} s.`,
      nextRetryDelay: blockedForMs,
      category: 'BENIGN',
    });
  }
  try {
    return await call();
  } catch (error) {
    if (error instanceof GraphApiError && error.kind === 'throttled' && error.retryAfterMs) {
      gate.metrics.throttleWait(adAccountId, error.retryAfterMs / 1000);
      await blockAdAccount(gate.pool, adAccountId, new Date(Date.now() + error.retryAfterMs));
    }
    throw error;
  }
}

/** `callForAdAccount`, with Graph errors turned into what Temporal should do about them. */
export async function callMeta<T>(gate: Gate, adAccountId: string, call: () => Promise<T>): Promise<T> {
  try {
    return await callForAdAccount(gate, adAccountId, call);
  } catch (error) {
    throw graphFailure(error);
  }
}
