export { GraphClient, DEFAULT_TIMEOUT_MS, type GraphClientOptions, type CustomerFileSource, type UsersResponse } from './graph-client';
export { GraphApiError, isGraphApiError, type GraphErrorBody } from './graph-error';
export {
  classifyGraphError,
  DEFAULT_THROTTLE_WAIT_MS,
  ACCOUNT_SCORE_THROTTLE_WAIT_MS,
  type GraphErrorKind,
  type GraphErrorName,
  type GraphErrorFacts,
  type GraphErrorClassification,
} from './error-classification';
export {
  parseUsageHeaders,
  parseBusinessUseCaseUsage,
  parseAdAccountUsage,
  parseAppUsage,
  retryAfterMsFromUsage,
  type GraphUsage,
  type BusinessUseCaseUsage,
  type AdAccountUsage,
  type AppUsage,
} from './usage-headers';
export { buildUsersRequestBody, MAX_ROWS_PER_USERS_REQUEST, type JsonText, type UsersBatch, type UploadSession } from './users-payload';
export { redactSensitiveText } from './redaction';
export { toAdAccountNode, adAccountDigits } from './ad-account-id';
