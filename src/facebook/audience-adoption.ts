import { adAccountDigits } from './ad-account-id';

/** What is read of an existing Custom Audience before audience-sync takes it over. */
export const ADOPTION_FIELDS = ['id', 'account_id', 'name', 'subtype', 'is_value_based', 'data_source'] as const;

/** The data source of an audience filled by single-key uploads, which takes no multi-key rows (reference §3.1). */
const SINGLE_KEY_SOURCE = 'HASHES_OR_USER_IDS';

/**
 * Why the Custom Audience read with ADOPTION_FIELDS cannot be adopted by a connection to `adAccountId` (whose
 * value-based setting is `valueBased`), or undefined when it can: it must belong to that ad account, be a
 * customer-list audience (subtype CUSTOM) not filled by single-key uploads, and be value-based exactly when the
 * connection is, since Meta never switches an audience between the two (reference §4 and §6).
 */
export function adoptionProblem(audience: Record<string, unknown>, adAccountId: string, valueBased: boolean): string | undefined {
  const id = String(audience.id);
  const owner = String(audience.account_id ?? '').replace(/^act_/, '');
  if (owner !== adAccountDigits(adAccountId)) {
    return `Custom Audience ${id} belongs to ad account act_${owner}, not ${adAccountId}; connect it with --ad-account act_${owner}.`;
  }
  if (audience.subtype !== 'CUSTOM') {
    return `Custom Audience ${id} is a ${String(audience.subtype)} audience; only customer-list audiences (subtype CUSTOM) can be synced.`;
  }
  if ((audience.data_source as { sub_type?: unknown } | undefined)?.sub_type === SINGLE_KEY_SOURCE) {
    return (
      `Custom Audience ${id} was filled with single-key uploads (data source ${SINGLE_KEY_SOURCE}), and Meta takes no ` +
      'multi-key rows into it; let audience-sync create its own audience instead.'
    );
  }
  const mismatch = valueBasedMismatch(audience, valueBased);
  if (mismatch) {
    return (
      `Custom Audience ${id} ${mismatch}; Meta never switches an audience between the two, so adopt another one or let ` +
      'audience-sync create its own.'
    );
  }
  return undefined;
}

/**
 * `is value-based and this connection is not` (or the other way round) when the audience read from Meta is not
 * of the connection's kind; undefined when it is.
 */
export function valueBasedMismatch(audience: Record<string, unknown>, valueBased: boolean): string | undefined {
  if (Boolean(audience.is_value_based) === valueBased) return undefined;
  return `is ${valueBased ? 'not ' : ''}value-based and this connection is ${valueBased ? 'value-based' : 'not'}`;
}

export function adoptionNotFound(audienceId: string): string {
  return `Custom Audience ${audienceId} does not exist, or the access token cannot see it; check the id given to --custom-audience-id.`;
}
