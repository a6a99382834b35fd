import type { AudienceRecord } from './audience-store';
import { invalidParameter } from './graph-error-response';

/**
 * The Custom Audience fields the emulator serves (reference §2.3). A customer list's size is the range its rows
 * round to, since an emulator without matching cannot know the people they match.
 */

/** delivery_status 300 ("too small to be used") below this many people; Meta's threshold is unpublished, ~100. */
const DELIVERABLE_AUDIENCE_SIZE = 100;

const unixSeconds = (date: Date | null): number | null => (date === null ? null : Math.floor(date.getTime() / 1000));

/**
 * A stand-in for the people a lookalike reaches: the emulator has no population, so it pretends every country
 * has this many people to draw from (a 1% lookalike: 20,000).
 */
const LOOKALIKE_POOL_PER_COUNTRY = 2_000_000;

/** A customer list's size is the rows it holds; a lookalike's, its ratio of the pretend pool. */
function sizeOf(audience: AudienceRecord): number {
  return audience.lookalike ? Math.round(audience.lookalike.ratio * LOOKALIKE_POOL_PER_COUNTRY) : audience.rowCount;
}

/** Status a test sets through the admin API in place of the emulator's own (`PATCH /_emulator/audiences/:id`). */
export interface AudienceStatusOverride {
  approximateCount?: { lower: number; upper: number };
  deliveryStatus?: { code: number; description: string };
  operationStatus?: { code: number; description: string };
}

/**
 * Meta's size range: -1 for a customer list that has received no upload (Meta has nothing to match yet), else the
 * size rounded down and up to two significant digits (5,034 rows: 5,000 to 5,100), a range as Meta gives.
 */
function approximateCount(audience: AudienceRecord): { lower: number; upper: number } {
  if (!audience.lookalike && audience.uploadSchema === null) return { lower: -1, upper: -1 };
  const size = sizeOf(audience);
  const step = size < 100 ? 1 : 10 ** (Math.floor(Math.log10(size)) - 1);
  return { lower: Math.floor(size / step) * step, upper: Math.ceil(size / step) * step };
}

type AudienceField = (audience: AudienceRecord, override: AudienceStatusOverride) => unknown;

const AUDIENCE_FIELDS: Readonly<Record<string, AudienceField>> = {
  id: (audience) => audience.id,
  account_id: (audience) => audience.adAccountId,
  name: (audience) => audience.name,
  description: (audience) => audience.description,
  subtype: (audience) => audience.subtype,
  customer_file_source: (audience) => audience.customerFileSource,
  is_value_based: (audience) => audience.isValueBased,
  lookalike_spec: (audience) =>
    audience.lookalike && {
      type: 'custom_ratio',
      ratio: audience.lookalike.ratio,
      country: audience.lookalike.country,
      origin: [{ id: audience.lookalike.originAudienceId, type: 'custom_audience' }],
    },
  approximate_count_lower_bound: (audience, override) => (override.approximateCount ?? approximateCount(audience)).lower,
  approximate_count_upper_bound: (audience, override) => (override.approximateCount ?? approximateCount(audience)).upper,
  operation_status: (audience, override) => {
    if (override.operationStatus) return override.operationStatus;
    if (audience.replace) return { code: 414, description: 'Replace in progress.' };
    if (audience.lookalike) return { code: 200, description: 'Normal' };
    return audience.uploadSchema === null
      ? { code: 410, description: 'No upload: this audience has not received any data yet.' }
      : { code: 200, description: 'Normal' };
  },
  delivery_status: (audience, override) =>
    override.deliveryStatus ??
    (sizeOf(audience) < DELIVERABLE_AUDIENCE_SIZE
      ? { code: 300, description: 'This audience is too small to be used.' }
      : { code: 200, description: 'This audience is ready for use.' }),
  data_source: (audience) => dataSourceOf(audience.uploadSchema),
  time_created: (audience) => unixSeconds(audience.createdAt),
  time_updated: (audience) => unixSeconds(audience.updatedAt),
  time_content_updated: (audience) => unixSeconds(audience.contentUpdatedAt),
};

/** Meta's names for the data source an upload schema implies (as quoted in its 2650 errors, reference §3.1). */
export function dataSourceOf(uploadSchema: readonly string[] | null): { type: string; sub_type: string } {
  if (uploadSchema === null) return { type: 'UNKNOWN', sub_type: 'ANYTHING' };
  return uploadSchema.length === 1 && uploadSchema[0]?.endsWith('_SHA256')
    ? { type: 'FILE_IMPORTED', sub_type: 'HASHES_OR_USER_IDS' }
    : { type: 'FILE_IMPORTED', sub_type: 'MULTI_HASHES' };
}

export function sameSchema(held: readonly string[], sent: readonly string[]): boolean {
  return held.length === sent.length && held.every((key, index) => key === sent[index]);
}

/** The `fields` parameter as a list; Graph returns only the id when none are asked for. */
export function requestedFields(fieldsParam: unknown, nodeType: string, known: readonly string[]): string[] {
  if (fieldsParam === undefined || fieldsParam === '') return ['id'];
  if (typeof fieldsParam !== 'string') throw invalidParameter('Param fields must be a comma-separated string');
  const fields = fieldsParam
    .split(',')
    .map((field) => field.trim())
    .filter((field) => field !== '');
  const unknown = fields.find((field) => !known.includes(field));
  if (unknown !== undefined) {
    throw invalidParameter(`Tried accessing nonexisting field (${unknown}) on node type (${nodeType})`);
  }
  return fields.includes('id') ? fields : ['id', ...fields];
}

export const AUDIENCE_FIELD_NAMES: readonly string[] = Object.keys(AUDIENCE_FIELDS);

export function audienceView(
  audience: AudienceRecord,
  fields: readonly string[],
  override: AudienceStatusOverride = {},
): Record<string, unknown> {
  const view: Record<string, unknown> = {};
  for (const field of fields) view[field] = AUDIENCE_FIELDS[field]?.(audience, override);
  return view;
}
