import { ApplicationFailure } from '@temporalio/activity';
import { GraphApiError } from '../facebook/graph-error';
import { FailureType, type NeedsPersonDetails } from '../workflows/failure-types';

/**
 * Turns a failed Graph call into what Temporal should do with the activity: retry it (after Meta's requested
 * wait when throttled) or hand the decision to the workflow with a typed, non-retryable failure.
 * Anything that is not a GraphApiError is rethrown untouched and retried by the activity's policy.
 */
export function graphFailure(error: unknown): unknown {
  if (!(error instanceof GraphApiError)) return error;
  switch (error.kind) {
    case 'throttled':
      return ApplicationFailure.create({
        type: FailureType.Throttled,
        message: error.message,
        nextRetryDelay: error.retryAfterMs,
        category: 'BENIGN',
      });
    case 'retryable':
      return ApplicationFailure.retryable(error.message, error.subcodeName);
    case 'needs_person': {
      const details: NeedsPersonDetails = { reason: error.reason, graphCode: error.code, graphSubcode: error.subcode };
      return ApplicationFailure.nonRetryable(error.message, FailureType.NeedsPerson, details);
    }
    case 'audience_gone':
      return ApplicationFailure.nonRetryable(error.message, FailureType.AudienceGone);
    case 'invalid_request':
      return ApplicationFailure.nonRetryable(error.message, FailureType.GraphRequestRejected);
  }
}
