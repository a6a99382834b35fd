import { parseAdAccountUsage, parseBusinessUseCaseUsage, parseUsageHeaders, retryAfterMsFromUsage } from '../../../src/facebook';

const BUC = JSON.stringify({
  '1234567': [
    { type: 'custom_audience', call_count: 118, total_cputime: 20, total_time: 35, estimated_time_to_regain_access: 47, ads_api_access_tier: 'standard_access' },
    { type: 'ads_management', call_count: 10, total_cputime: 1, total_time: 1, estimated_time_to_regain_access: 0 },
  ],
  '999': [{ type: 'custom_audience', call_count: 100, total_cputime: 5, total_time: 5, estimated_time_to_regain_access: 90 }],
});

describe('usage headers', () => {
  it('parses X-Business-Use-Case-Usage into one entry per business object and type', () => {
    const usage = parseBusinessUseCaseUsage(BUC);
    expect(usage).toHaveLength(3);
    expect(usage.find((entry) => entry.businessId === '1234567' && entry.type === 'custom_audience')).toEqual({
      businessId: '1234567',
      type: 'custom_audience',
      callCountPct: 118,
      totalCputimePct: 20,
      totalTimePct: 35,
      estimatedTimeToRegainAccessMinutes: 47,
      adsApiAccessTier: 'standard_access',
    });
  });

  it('parses X-Ad-Account-Usage, whose reset time is in seconds', () => {
    expect(parseAdAccountUsage('{"acc_id_util_pct":9.67,"reset_time_duration":120,"ads_api_access_tier":"development_access"}')).toEqual({
      accountUtilPct: 9.67,
      resetTimeDurationSeconds: 120,
      adsApiAccessTier: 'development_access',
    });
  });

  it.each([null, '', 'not json', '[]', '"text"'])('ignores a missing or malformed header (%j)', (value) => {
    expect(parseBusinessUseCaseUsage(value)).toEqual([]);
    expect(parseAdAccountUsage(value)).toBeUndefined();
  });

  it('reads the headers case-insensitively from fetch Headers', () => {
    const headers = new Headers({ 'X-Business-Use-Case-Usage': BUC, 'X-App-Usage': '{"call_count":5,"total_cputime":1,"total_time":2}' });
    const usage = parseUsageHeaders(headers);
    expect(usage.businessUseCase).toHaveLength(3);
    expect(usage.app).toEqual({ callCountPct: 5, totalCputimePct: 1, totalTimePct: 2 });
    expect(usage.adAccount).toBeUndefined();
  });

  describe('retryAfterMsFromUsage', () => {
    const usage = (buc: string | null, adAccount: string | null) =>
      parseUsageHeaders(new Headers({ ...(buc ? { 'x-business-use-case-usage': buc } : {}), ...(adAccount ? { 'x-ad-account-usage': adAccount } : {}) }));

    it('takes the ad account\'s longest estimated_time_to_regain_access, in minutes', () => {
      expect(retryAfterMsFromUsage(usage(BUC, null), '1234567')).toBe(47 * 60_000);
    });

    it('takes the longest wait in the header when the account is unknown or absent', () => {
      expect(retryAfterMsFromUsage(usage(BUC, null))).toBe(90 * 60_000);
      expect(retryAfterMsFromUsage(usage(BUC, null), '555')).toBe(90 * 60_000);
    });

    it('falls back to the ad account reset time, then to nothing', () => {
      const zero = JSON.stringify({ '1': [{ type: 'custom_audience', estimated_time_to_regain_access: 0 }] });
      expect(retryAfterMsFromUsage(usage(zero, '{"acc_id_util_pct":100,"reset_time_duration":300}'), '1')).toBe(300_000);
      expect(retryAfterMsFromUsage(usage(zero, null), '1')).toBeUndefined();
      expect(retryAfterMsFromUsage(usage(null, null))).toBeUndefined();
    });
  });
});
