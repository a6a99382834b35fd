import { ApplicationFailure } from '@temporalio/common';
import { failingOnBrokenInvariants } from '../../../src/activities/invariant-failure';
import { StateInvariantError } from '../../../src/db/state-invariant';
import { FailureType } from '../../../src/workflows/failure-types';

describe('failingOnBrokenInvariants', () => {
  it('turns a broken invariant into a failure that is not retried', async () => {
    const failure = await failingOnBrokenInvariants(async () => {
      throw new StateInvariantError('audience a has no record to note its basis in');
    }).catch((error: unknown) => error);
    expect(failure).toBeInstanceOf(ApplicationFailure);
    expect(failure).toMatchObject({ type: FailureType.StateInvariantBroken, nonRetryable: true });
    expect((failure as Error).message).toMatch(/^audience a has no record to note its basis in; retrying cannot help/);
  });

  it('leaves any other failure to the retry policy, and passes results through', async () => {
    const other = new Error('connection reset');
    await expect(failingOnBrokenInvariants(async () => Promise.reject(other))).rejects.toBe(other);
    await expect(failingOnBrokenInvariants(async () => 42)).resolves.toBe(42);
  });
});
