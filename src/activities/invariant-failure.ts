import { ApplicationFailure } from '@temporalio/activity';
import { StateInvariantError } from '../db/state-invariant';
import { FailureType } from '../workflows/failure-types';

/** Runs an activity's work so that a broken invariant fails the cycle at once rather than being retried for hours. */
export async function failingOnBrokenInvariants<T>(work: () => Promise<T>): Promise<T> {
  try {
    return await work();
  } catch (error) {
    if (!(error instanceof StateInvariantError)) throw error;
    throw ApplicationFailure.nonRetryable(
      `${error.message}; retrying cannot help, so the cycle failed (the next cycle starts afresh).`,
      FailureType.StateInvariantBroken,
    );
  }
}
