export interface ThrottleSettings {
  maxCallsPerWindow: number;
  windowMs: number;
}

export interface AccountUsage {
  /** Percent of the window's quota used. */
  callCountPct: number;
  /** Whole minutes until a call would be admitted again; 0 while calls are admitted. */
  minutesToRegainAccess: number;
  /** Seconds until the oldest counted call leaves the window. */
  resetSeconds: number;
}

export type Admission = { admitted: true; usage: AccountUsage } | { admitted: false; usage: AccountUsage };

/**
 * Meta's Business Use Case limit for custom audiences, per ad account over a rolling window (reference §8).
 * A refused call is not counted, so calls made while blocked keep being refused but do not push the end of the
 * block further out.
 */
export class AccountThrottle {
  private readonly callTimesByAccount = new Map<string, number[]>();

  admit(adAccountId: string, settings: ThrottleSettings, now: number): Admission {
    const times = this.windowCalls(adAccountId, settings, now);
    if (times.length >= settings.maxCallsPerWindow) {
      return { admitted: false, usage: this.usageOf(times, settings, now, true) };
    }
    times.push(now);
    return { admitted: true, usage: this.usageOf(times, settings, now, false) };
  }

  clear(): void {
    this.callTimesByAccount.clear();
  }

  private windowCalls(adAccountId: string, settings: ThrottleSettings, now: number): number[] {
    const times = this.callTimesByAccount.get(adAccountId) ?? [];
    const firstInWindow = times.findIndex((time) => time > now - settings.windowMs);
    const current = firstInWindow === -1 ? [] : firstInWindow === 0 ? times : times.slice(firstInWindow);
    this.callTimesByAccount.set(adAccountId, current);
    return current;
  }

  private usageOf(times: readonly number[], settings: ThrottleSettings, now: number, blocked: boolean): AccountUsage {
    const oldest = times[0];
    const msUntilOldestExpires = oldest === undefined ? 0 : Math.max(0, oldest + settings.windowMs - now);
    return {
      callCountPct: Math.round((times.length / settings.maxCallsPerWindow) * 100),
      minutesToRegainAccess: blocked ? Math.max(1, Math.ceil(msUntilOldestExpires / 60_000)) : 0,
      resetSeconds: Math.ceil(msUntilOldestExpires / 1000),
    };
  }
}

/**
 * The usage headers Meta sends with every ads call. The emulator counts calls only, so CPU and wall-time shares
 * are reported equal to the call share.
 */
export function usageHeaders(adAccountId: string, usage: AccountUsage): Record<string, string> {
  return {
    'x-business-use-case-usage': JSON.stringify({
      [adAccountId]: [
        {
          type: 'custom_audience',
          call_count: usage.callCountPct,
          total_cputime: usage.callCountPct,
          total_time: usage.callCountPct,
          estimated_time_to_regain_access: usage.minutesToRegainAccess,
          ads_api_access_tier: 'standard_access',
        },
      ],
    }),
    'x-ad-account-usage': JSON.stringify({
      acc_id_util_pct: usage.callCountPct,
      reset_time_duration: usage.resetSeconds,
      ads_api_access_tier: 'standard_access',
    }),
  };
}
