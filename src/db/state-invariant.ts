/**
 * Our tables contradict themselves or the workflow (a record missing, a count that does not add up): retrying
 * the same step cannot help, so the activity fails the cycle at once with this sentence instead of retrying for
 * hours. Messages name audiences and cycles, never members.
 */
export class StateInvariantError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'StateInvariantError';
  }
}
