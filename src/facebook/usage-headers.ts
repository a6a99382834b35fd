/**
 * Meta's rate-limit usage headers (reference §8). Values are percentages of the quota, except
 * `estimated_time_to_regain_access` (minutes) and `reset_time_duration` (seconds).
 * Meta sends them on error responses too, and that is exactly when they matter most.
 */

export const BUSINESS_USE_CASE_USAGE_HEADER = 'x-business-use-case-usage';
export const AD_ACCOUNT_USAGE_HEADER = 'x-ad-account-usage';
export const APP_USAGE_HEADER = 'x-app-usage';

export interface BusinessUseCaseUsage {
  /** The business object the quota belongs to; for ad account calls, the ad account's digits. */
  businessId: string;
  type: string;
  callCountPct: number;
  totalCputimePct: number;
  totalTimePct: number;
  estimatedTimeToRegainAccessMinutes: number;
  adsApiAccessTier?: string;
}

export interface AdAccountUsage {
  accountUtilPct: number;
  resetTimeDurationSeconds: number;
  adsApiAccessTier?: string;
}

export interface AppUsage {
  callCountPct: number;
  totalCputimePct: number;
  totalTimePct: number;
}

export interface GraphUsage {
  businessUseCase: BusinessUseCaseUsage[];
  adAccount?: AdAccountUsage;
  app?: AppUsage;
}

/** Anything with a case-insensitive `get`, such as fetch's `Headers`. */
export interface HeaderSource {
  get(name: string): string | null;
}

export function parseUsageHeaders(headers: HeaderSource): GraphUsage {
  const adAccount = parseAdAccountUsage(headers.get(AD_ACCOUNT_USAGE_HEADER));
  const app = parseAppUsage(headers.get(APP_USAGE_HEADER));
  return {
    businessUseCase: parseBusinessUseCaseUsage(headers.get(BUSINESS_USE_CASE_USAGE_HEADER)),
    ...(adAccount ? { adAccount } : {}),
    ...(app ? { app } : {}),
  };
}

export function hasUsage(usage: GraphUsage): boolean {
  return usage.businessUseCase.length > 0 || usage.adAccount !== undefined || usage.app !== undefined;
}

/** A malformed header is ignored rather than failing a call that otherwise succeeded. */
export function parseBusinessUseCaseUsage(headerValue: string | null): BusinessUseCaseUsage[] {
  const parsed = parseJsonObject(headerValue);
  if (!parsed) return [];
  const usages: BusinessUseCaseUsage[] = [];
  for (const [businessId, entries] of Object.entries(parsed)) {
    if (!Array.isArray(entries)) continue;
    for (const entry of entries) {
      if (!isRecord(entry)) continue;
      const tier = entry['ads_api_access_tier'];
      usages.push({
        businessId,
        type: typeof entry['type'] === 'string' ? entry['type'] : 'unknown',
        callCountPct: numberOrZero(entry['call_count']),
        totalCputimePct: numberOrZero(entry['total_cputime']),
        totalTimePct: numberOrZero(entry['total_time']),
        estimatedTimeToRegainAccessMinutes: numberOrZero(entry['estimated_time_to_regain_access']),
        ...(typeof tier === 'string' ? { adsApiAccessTier: tier } : {}),
      });
    }
  }
  return usages;
}

export function parseAdAccountUsage(headerValue: string | null): AdAccountUsage | undefined {
  const parsed = parseJsonObject(headerValue);
  if (!parsed) return undefined;
  const tier = parsed['ads_api_access_tier'];
  return {
    accountUtilPct: numberOrZero(parsed['acc_id_util_pct']),
    resetTimeDurationSeconds: numberOrZero(parsed['reset_time_duration']),
    ...(typeof tier === 'string' ? { adsApiAccessTier: tier } : {}),
  };
}

export function parseAppUsage(headerValue: string | null): AppUsage | undefined {
  const parsed = parseJsonObject(headerValue);
  if (!parsed) return undefined;
  return {
    callCountPct: numberOrZero(parsed['call_count']),
    totalCputimePct: numberOrZero(parsed['total_cputime']),
    totalTimePct: numberOrZero(parsed['total_time']),
  };
}

/**
 * How long Meta says to stay away, from the headers alone: the ad account's Business Use Case wait first
 * (the custom_audience quota is the one /users calls spend), then the ad account score's reset time.
 * When the account is unknown (calls addressed to an audience id), the longest wait in the header is taken,
 * since waiting too little only earns another refusal and extends the block (reference §8).
 * Returns undefined when the headers name no wait.
 */
export function retryAfterMsFromUsage(usage: GraphUsage, adAccountDigits?: string): number | undefined {
  const forAccount = usage.businessUseCase.filter((entry) => entry.businessId === adAccountDigits);
  const candidates = forAccount.length > 0 ? forAccount : usage.businessUseCase;
  const minutes = Math.max(0, ...candidates.map((entry) => entry.estimatedTimeToRegainAccessMinutes));
  if (minutes > 0) return minutes * 60_000;
  const resetSeconds = usage.adAccount?.resetTimeDurationSeconds ?? 0;
  if (resetSeconds > 0) return resetSeconds * 1_000;
  return undefined;
}

function parseJsonObject(headerValue: string | null): Record<string, unknown> | undefined {
  if (!headerValue) return undefined;
  try {
    const parsed: unknown = JSON.parse(headerValue);
    return isRecord(parsed) ? parsed : undefined;
  } catch {
    return undefined;
  }
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function numberOrZero(value: unknown): number {
  const parsed = typeof value === 'string' ? Number(value) : value;
  return typeof parsed === 'number' && Number.isFinite(parsed) ? parsed : 0;
}
