import { AUDIENCE_FIELD_NAMES, audienceView, requestedFields } from './audience-fields';
import type { AudienceRecord } from './audience-store';
import type { EmulatorContext } from './emulator-context';
import { GraphErrorResponse, invalidParameter, missingParameter } from './graph-error-response';

/** A Graph call after routing: the parameters merged from query string and body. */
export interface GraphCall {
  method: string;
  /** e.g. /v27.0/act_1/customaudiences */
  path: string;
  params: Record<string, unknown>;
  /** scheme://host the call was addressed to, for paging links. */
  origin: string;
}

/** A successful answer, and how many /users rows it carried (for the call log). */
export interface GraphAnswer {
  body: unknown;
  rows: number;
}

const CUSTOMER_FILE_SOURCES = ['USER_PROVIDED_ONLY', 'PARTNER_PROVIDED_ONLY', 'BOTH_USER_AND_PARTNER_PROVIDED'];
/** Meta allows 500 customer-file audiences per ad account (reference §2.1). */
const MAX_CUSTOMER_FILE_AUDIENCES = 500;
const DEFAULT_PAGE_SIZE = 25;
const AD_ACCOUNT_FIELDS = ['id', 'account_id', 'tos_accepted'];

export function readAdAccount(context: EmulatorContext, adAccountId: string, call: GraphCall): GraphAnswer {
  const fields = requestedFields(call.params['fields'], 'AdAccount', AD_ACCOUNT_FIELDS);
  const values: Record<string, unknown> = {
    id: `act_${adAccountId}`,
    account_id: adAccountId,
    // Meta leaves the key out when the terms are not accepted.
    tos_accepted: context.access.termsAccepted(adAccountId) ? { custom_audience_tos: 1 } : {},
  };
  return { body: Object.fromEntries(fields.map((field) => [field, values[field]])), rows: 0 };
}

export async function createAudience(context: EmulatorContext, adAccountId: string, call: GraphCall): Promise<GraphAnswer> {
  context.access.assertTermsAccepted(adAccountId);
  const name = optionalText(call.params, 'name');
  const subtype = optionalText(call.params, 'subtype');
  const customerFileSource = optionalText(call.params, 'customer_file_source');
  const description = optionalText(call.params, 'description') ?? '';
  const missing = [
    name === undefined || name === '' ? 'name' : undefined,
    subtype === undefined ? 'subtype' : undefined,
    customerFileSource === undefined ? 'customer_file_source' : undefined,
  ].filter((parameter) => parameter !== undefined);
  if (missing.length > 0) throw missingParameter(missing.join(', '));
  if (subtype !== 'CUSTOM') {
    throw invalidParameter('Param subtype: the emulator serves customer list audiences only (subtype CUSTOM)');
  }
  if (!CUSTOMER_FILE_SOURCES.includes(customerFileSource as string)) {
    throw invalidParameter(`Param customer_file_source must be one of {${CUSTOMER_FILE_SOURCES.join(', ')}}`);
  }
  const existing = await context.store.countLiveAudiences(adAccountId);
  if (existing >= MAX_CUSTOMER_FILE_AUDIENCES) {
    throw new GraphErrorResponse(2654, undefined, {
      message: `(#2654) Failed to create custom audience: the ad account already has the maximum of ${MAX_CUSTOMER_FILE_AUDIENCES} customer file audiences`,
    });
  }
  const audience = await context.store.createAudience({
    adAccountId,
    name: name as string,
    description,
    subtype,
    customerFileSource: customerFileSource as string,
  });
  return { body: { id: audience.id }, rows: 0 };
}

/** Cursor paging as Graph does it: opaque cursors, and a `next` link only while more pages exist. */
export async function listAudiences(context: EmulatorContext, adAccountId: string, call: GraphCall): Promise<GraphAnswer> {
  const fields = requestedFields(call.params['fields'], 'CustomAudience', AUDIENCE_FIELD_NAMES);
  const limit = pageSize(call.params['limit']);
  if (call.params['before'] !== undefined) throw invalidParameter('Param before: the emulator pages forward only (use after)');
  const afterId = call.params['after'] === undefined ? undefined : decodeCursor(call.params['after']);
  // One extra row tells whether another page exists.
  const audiences = await context.store.listAccountAudiences(adAccountId, afterId, limit + 1);
  const page = audiences.slice(0, limit);
  const first = page[0];
  const last = page[page.length - 1];
  if (!first || !last) return { body: { data: [] }, rows: 0 };
  const cursors = { before: encodeCursor(first.id), after: encodeCursor(last.id) };
  const next = new URL(`${call.origin}${call.path}`);
  next.searchParams.set('fields', fields.join(','));
  next.searchParams.set('limit', String(limit));
  next.searchParams.set('after', cursors.after);
  return {
    body: {
      data: page.map((audience) => audienceView(audience, fields)),
      paging: { cursors, ...(audiences.length > limit ? { next: next.toString() } : {}) },
    },
    rows: 0,
  };
}

export function readAudience(audience: AudienceRecord, call: GraphCall): GraphAnswer {
  const fields = requestedFields(call.params['fields'], 'CustomAudience', AUDIENCE_FIELD_NAMES);
  return { body: audienceView(audience, fields), rows: 0 };
}

export async function updateAudience(context: EmulatorContext, audience: AudienceRecord, call: GraphCall): Promise<GraphAnswer> {
  context.access.assertTermsAccepted(audience.adAccountId);
  const name = optionalText(call.params, 'name');
  const description = optionalText(call.params, 'description');
  if (name === '') throw invalidParameter('Param name must be non-empty');
  if (name === undefined && description === undefined) throw missingParameter('name or description');
  await context.store.updateAudience(audience.id, {
    ...(name !== undefined ? { name } : {}),
    ...(description !== undefined ? { description } : {}),
  });
  return { body: { success: true }, rows: 0 };
}

export async function deleteAudience(context: EmulatorContext, audience: AudienceRecord): Promise<GraphAnswer> {
  context.access.assertTermsAccepted(audience.adAccountId);
  await context.store.deleteAudience(audience.id);
  return { body: { success: true }, rows: 0 };
}

function optionalText(params: Record<string, unknown>, name: string): string | undefined {
  const value = params[name];
  if (value === undefined) return undefined;
  if (typeof value !== 'string') throw invalidParameter(`Param ${name} must be a string`);
  return value;
}

function pageSize(limitParam: unknown): number {
  if (limitParam === undefined) return DEFAULT_PAGE_SIZE;
  const limit = Number(limitParam);
  if (!Number.isInteger(limit) || limit < 1) throw invalidParameter('Param limit must be a positive integer');
  return limit;
}

function encodeCursor(id: string): string {
  return Buffer.from(id).toString('base64url');
}

function decodeCursor(cursor: unknown): string {
  const id = typeof cursor === 'string' ? Buffer.from(cursor, 'base64url').toString() : '';
  if (!/^\d{1,18}$/.test(id)) throw invalidParameter('Param after is not a valid cursor');
  return id;
}
