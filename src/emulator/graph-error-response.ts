import { randomBytes } from 'node:crypto';

/**
 * Meta's error envelope, and the errors the emulator answers with. HTTP statuses follow what Graph is seen to
 * send: 500 for the transient codes 1 and 2, 403 for permission errors (10, 200–299), 400 for everything else,
 * including rate limits (Meta signals those in the body, not with 429).
 */

interface MetaErrorText {
  message: string;
  type?: string;
  userTitle?: string;
  userMsg?: string;
  isTransient?: boolean;
}

const RATE_LIMIT_TEXT = 'There have been too many calls to this ad-account. Wait a bit and try again.';

/** Texts keyed by "code" or "code/subcode"; the more specific key wins. */
const META_ERROR_TEXTS: Readonly<Record<string, MetaErrorText>> = {
  '1': { message: 'An unknown error has occurred.', isTransient: true },
  '1/99': { message: 'An unknown error occurred', isTransient: true },
  '2': { message: 'An unexpected error has occurred. Please retry your request later.', isTransient: true },
  '4': { message: '(#4) Application request limit reached', isTransient: true },
  '10': { message: '(#10) Application does not have permission for this action' },
  '17': { message: '(#17) User request limit reached', isTransient: true },
  '32': { message: '(#32) Page request limit reached', isTransient: true },
  '100': { message: '(#100) Invalid parameter' },
  '100/33': {
    message:
      "Unsupported request. Object with ID '0' does not exist, cannot be loaded due to missing permissions, or does not support this operation.",
    type: 'GraphMethodException',
  },
  '100/1713230': { message: '(#100) Audience Upload Blocked', userTitle: 'Audience Upload Blocked' },
  '102': { message: 'Session key invalid or no longer valid' },
  '104': { message: 'An access token is required to request this resource.' },
  '190': { message: 'Invalid OAuth access token - Cannot parse access token' },
  '190/460': {
    message:
      'Error validating access token: The session has been invalidated because the user changed their password or Facebook has changed the session for security reasons.',
  },
  '190/463': { message: 'Error validating access token: Session has expired.' },
  '200': { message: '(#200) Permissions error' },
  '200/1870034': {
    message: '(#200) Custom Audience Terms Not Accepted',
    userTitle: 'Custom Audience Terms Not Accepted',
    userMsg:
      'You need to accept the Custom Audience Terms before you can create or edit an audience or an ad set. See https://business.facebook.com/ads/manage/customaudiences/tos/',
  },
  '200/1870047': {
    message: '(#200) Audience Size too Low',
    userTitle: 'Audience Size too Low',
    userMsg: "You can't remove this group of people because your audience would be too small.",
  },
  '294': { message: '(#294) Managing advertisements requires the extended permission ads_management' },
  '368': { message: '(#368) The action attempted has been deemed abusive or is otherwise disallowed' },
  '613': { message: '(#613) Calls to this api have exceeded the rate limit.' },
  '2500': { message: 'Unknown path components' },
  '2635': { message: '(#2635) You are calling a deprecated version of the Ads API. Please update to the latest version.' },
  '2650': { message: '(#2650) Failed to update the custom audience' },
  '2656': {
    message: '(#2656) Failed to delete custom audience: the audience has lookalike audiences built from it; delete them first',
  },
  '2650/1870144': {
    message: '(#2650) Audience Too Large to Replace',
    userMsg: 'This audience holds 100 million people or more: update it with additions and removals instead.',
  },
  '2650/1870145': {
    message: '(#2650) Audience Is Being Updated',
    userMsg: 'This audience is being updated. Wait until its status is Normal, then try again.',
  },
  '2650/1870147': {
    message: '(#2650) First Batch Not Detected',
    userMsg: 'A replace session starts with batch_seq 1; no batch 1 was received for this session.',
  },
  '2650/1870148': {
    message: '(#2650) Replace Failed',
    userMsg: 'Something went wrong while replacing the audience, which may be partly updated. Check its size and try again.',
  },
  '2650/1870158': {
    message: '(#2650) Replace Session Timed Out',
    userMsg:
      'The replace session passed its 90 minutes: the audience now holds the people uploaded in it. Add the rest with an upload to /users.',
  },
  '2650/1870159': {
    message: '(#2650) Replace Session Already Finished',
    userMsg: 'This replace session has ended (its last batch was received). Add more people with an upload to /users.',
  },
  '80003': { message: `(#80003) ${RATE_LIMIT_TEXT}`, isTransient: true },
  '80004': { message: `(#80004) ${RATE_LIMIT_TEXT}`, isTransient: true },
};

/** The rate-limit codes, each with the subcode Meta pairs it with (reference §8, §9). */
export const RATE_LIMIT_DEFAULT_SUBCODES: ReadonlyMap<number, number | undefined> = new Map<number, number | undefined>([
  [4, 1504022],
  [17, 2446079],
  [32, undefined],
  [613, 1487742],
  [80003, 2446079],
  [80004, 2446079],
]);

export function isRateLimitCode(code: number): boolean {
  return RATE_LIMIT_DEFAULT_SUBCODES.has(code);
}

export function httpStatusForCode(code: number): number {
  if (code === 1 || code === 2) return 500;
  if (code === 10 || (code >= 200 && code <= 299)) return 403;
  return 400;
}

export interface GraphErrorOverrides {
  message?: string;
  httpStatus?: number;
  headers?: Record<string, string>;
}

/** Thrown anywhere while handling a Graph call; the router turns it into Meta's envelope. */
export class GraphErrorResponse extends Error {
  readonly httpStatus: number;
  readonly type: string;
  readonly isTransient: boolean | undefined;
  readonly userTitle: string | undefined;
  readonly userMsg: string | undefined;
  readonly headers: Record<string, string>;

  constructor(
    readonly code: number,
    readonly subcode?: number,
    overrides: GraphErrorOverrides = {},
  ) {
    const text = META_ERROR_TEXTS[`${code}/${subcode}`] ?? META_ERROR_TEXTS[String(code)];
    super(overrides.message ?? text?.message ?? `(#${code}) Emulated Graph API error`);
    this.name = 'GraphErrorResponse';
    this.httpStatus = overrides.httpStatus ?? httpStatusForCode(code);
    this.type = text?.type ?? 'OAuthException';
    this.isTransient = text?.isTransient;
    this.userTitle = text?.userTitle;
    this.userMsg = text?.userMsg;
    this.headers = overrides.headers ?? {};
  }

  envelope(): { error: Record<string, unknown> } {
    return {
      error: {
        message: this.message,
        type: this.type,
        code: this.code,
        ...(this.subcode !== undefined ? { error_subcode: this.subcode } : {}),
        ...(this.isTransient !== undefined ? { is_transient: this.isTransient } : {}),
        ...(this.userTitle !== undefined ? { error_user_title: this.userTitle } : {}),
        ...(this.userMsg !== undefined ? { error_user_msg: this.userMsg } : {}),
        fbtrace_id: newFbtraceId(),
      },
    };
  }
}

export function invalidParameter(message: string): GraphErrorResponse {
  return new GraphErrorResponse(100, undefined, { message: `(#100) ${message}` });
}

export function missingParameter(name: string): GraphErrorResponse {
  return invalidParameter(`Missing parameter(s): ${name}`);
}

/** Graph's answer for an object that is deleted, never existed, or is not visible to the token. */
export function objectNotFound(method: string, id: string): GraphErrorResponse {
  return new GraphErrorResponse(100, 33, {
    message:
      `Unsupported ${method.toLowerCase()} request. Object with ID '${id}' does not exist, cannot be loaded due to missing ` +
      'permissions, or does not support this operation. Please read the Graph API documentation at https://developers.facebook.com/docs/graph-api',
  });
}

export function unknownPath(path: string): GraphErrorResponse {
  return new GraphErrorResponse(2500, undefined, { message: `Unknown path components: ${path}` });
}

/** fbtrace_id is an opaque id Meta support asks for; 11 url-safe characters like Meta's. */
function newFbtraceId(): string {
  return randomBytes(8).toString('base64url').slice(0, 11);
}
