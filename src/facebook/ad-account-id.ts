const AD_ACCOUNT_ID = /^(?:act_)?(\d+)$/;

/**
 * Graph addresses ad accounts as `act_<digits>`, but operators often paste the bare number from Ads Manager.
 * Both spellings are accepted; anything else is a configuration mistake caught before a request is sent.
 */
export function toAdAccountNode(adAccountId: string): string {
  return `act_${adAccountDigits(adAccountId)}`;
}

/** The digits of an ad account id: the key Meta uses for the account in usage headers. */
export function adAccountDigits(adAccountId: string): string {
  const match = AD_ACCOUNT_ID.exec(adAccountId.trim());
  if (!match) {
    throw new RangeError(`Not an ad account id: expected "act_<digits>" or "<digits>", got "${adAccountId}"`);
  }
  return match[1] as string;
}
