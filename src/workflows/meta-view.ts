/**
 * What Meta makes of an audience (reference §2.3, §2.4), read once per cycle: the people it matched, as a range,
 * and whether the audience can be used. Plain JSON: it is carried through continue-as-new and shown in status.
 */

/** Meta's range of matched people; null while Meta reports -1 (it does not know yet). */
export type ApproximateSize = { lower: number; upper: number } | null;

export interface MetaStatusCode {
  code: number;
  description: string;
}

export interface MetaView {
  /** When it was read (ISO). */
  readAt: string;
  approximateSize: ApproximateSize;
  deliveryStatus: MetaStatusCode | null;
  operationStatus: MetaStatusCode | null;
  /** Why the last read failed; the figures are then those of the read before, if any. */
  problem?: string;
}

/**
 * Operation status codes that ask something of a person (reference §2.4). The rest are routine for a customer list
 * (0 unknown, 200 normal, 410 before the first upload, 414 a replace running) or belong to other kinds of audience.
 */
const OPERATION_STATUS_ACTIONS: Readonly<Record<number, string>> = {
  100: 'it has not been used in an active ad set for two years and Meta deletes it 90 days later unless an ad set uses it',
  400: 'Meta warns about it; Ads Manager says why',
  411: 'few of its rows matched people: check the match keys and dropped values below, and the source data',
  412: 'many rows of the last upload were invalid: check the dropped values and the source data',
  415: 'the last replace failed; `sync-now --replace` tries again',
  450: 'it is out of date (unused for 30 days, or never used and older than 90 days): use it in an ad set or delete it',
  470: 'the ad account that created it is inactive',
  471: 'Meta flagged it for integrity (it suggests health or financial status): it cannot be used in ads or edited until the source data is changed',
  500: 'Meta reports an error with it; Ads Manager says more',
};

/** One sentence when Meta's view asks something of a person: too small, unusable, or an operation in trouble. */
export function metaViewAttention(view: MetaView): string | undefined {
  const delivery = view.deliveryStatus;
  // Before the first upload (operation 410) an audience is empty, and too small, as a matter of course.
  if (delivery?.code === 300 && view.operationStatus?.code !== 410) {
    return (
      'Meta reports the audience too small to be used in ads (delivery status 300): it needs more matched people ' +
      '(about 100); matching can take up to 24 hours after an upload.'
    );
  }
  if (delivery && delivery.code >= 400) {
    return `Meta reports the audience unusable in ads (delivery status ${delivery.code}: ${delivery.description}).`;
  }
  const operation = view.operationStatus;
  const action = operation ? OPERATION_STATUS_ACTIONS[operation.code] : undefined;
  return operation && action ? `Meta reports operation status ${operation.code} (${operation.description}): ${action}.` : undefined;
}

/** The sentence that explains Meta's figures beside ours: rows accepted are not people matched. */
export function metaViewNote(view: MetaView, membersSent: number | undefined): string {
  if (view.approximateSize === null) {
    return 'Meta does not report a size yet (-1): it matches uploaded rows to people over up to 24 hours.';
  }
  const sent = membersSent === undefined ? '' : ` from the ${membersSent} members sent`;
  return (
    `Meta counts the people it matched${sent}, as a range, not the rows it accepted; ` +
    'it updates over up to 24 hours after an upload, and removals may show later still.'
  );
}
