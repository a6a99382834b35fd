import { GraphErrorResponse, unknownPath } from './graph-error-response';

/**
 * Marketing API versions the emulator serves, as of the reference (late 2026): v25.0 to v27.0. Older versions
 * have expired and answer 2635; a call without a version is invalid for the Marketing API (reference §0) and is
 * answered the same way, since Graph would route it to an app default version that has long expired.
 * A fixed list rather than the wall clock keeps tests from failing on the day a version expires.
 */
export const SUPPORTED_API_VERSIONS: readonly string[] = ['v25.0', 'v26.0', 'v27.0'];
export const LATEST_API_VERSION = 'v27.0';

const VERSION_SEGMENT = /^v(\d+)\.(\d+)$/;

/** Throws Meta's error for a path whose first segment is not a supported version. */
export function assertSupportedVersion(firstSegment: string | undefined, path: string): void {
  if (firstSegment !== undefined && SUPPORTED_API_VERSIONS.includes(firstSegment)) return;
  const match = firstSegment === undefined ? null : VERSION_SEGMENT.exec(firstSegment);
  if (match && Number(match[1]) > majorOf(LATEST_API_VERSION)) throw unknownPath(path);
  throw new GraphErrorResponse(2635, undefined, {
    message: `(#2635) You are calling a deprecated version of the Ads API. Please update to the latest version: ${LATEST_API_VERSION}.`,
  });
}

function majorOf(version: string): number {
  return Number(VERSION_SEGMENT.exec(version)?.[1]);
}
