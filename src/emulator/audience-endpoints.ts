import { AUDIENCE_FIELD_NAMES, audienceView, requestedFields } from './audience-fields';
import isoCountries from 'i18n-iso-countries';
import { z } from 'zod';
import { sha256Hex } from './match-key-catalog';
import { parseObjectParameter } from './users-request';
import type { AudienceRecord, Lookalike } from './audience-store';
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
/** Meta allows 500 customer-file audiences and 500 lookalikes per ad account (reference §2.1). */
const MAX_AUDIENCES_OF_A_KIND = 500;
const MIN_LOOKALIKE_RATIO = 0.01;
const MAX_LOOKALIKE_RATIO = 0.1;
const MIN_SEED_PEOPLE = 100;
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
  const description = optionalText(call.params, 'description') ?? '';
  const missing = [name === undefined || name === '' ? 'name' : undefined, subtype === undefined ? 'subtype' : undefined];
  if (subtype === 'CUSTOM' && call.params['customer_file_source'] === undefined) missing.push('customer_file_source');
  if (subtype === 'LOOKALIKE' && call.params['origin_audience_id'] === undefined) missing.push('origin_audience_id');
  if (subtype === 'LOOKALIKE' && call.params['lookalike_spec'] === undefined) missing.push('lookalike_spec');
  const named = missing.filter((parameter) => parameter !== undefined);
  if (named.length > 0) throw missingParameter(named.join(', '));
  if (subtype !== 'CUSTOM' && subtype !== 'LOOKALIKE') {
    throw invalidParameter('Param subtype: the emulator serves customer lists (CUSTOM) and lookalikes (LOOKALIKE) only');
  }
  const audience =
    subtype === 'CUSTOM'
      ? newCustomerList(call)
      : { customerFileSource: '', isValueBased: false, lookalike: await newLookalike(context, adAccountId, call) };
  if ((await context.store.countLiveAudiences(adAccountId, subtype)) >= MAX_AUDIENCES_OF_A_KIND) {
    throw new GraphErrorResponse(2654, undefined, {
      message: `(#2654) Failed to create custom audience: the ad account already has the maximum of ${MAX_AUDIENCES_OF_A_KIND} ${subtype} audiences`,
    });
  }
  const created = await context.store.createAudience({ adAccountId, name: name as string, description, subtype, ...audience });
  return { body: { id: created.id }, rows: 0 };
}

function newCustomerList(call: GraphCall): { customerFileSource: string; isValueBased: boolean; lookalike: null } {
  const customerFileSource = optionalText(call.params, 'customer_file_source') as string;
  if (!CUSTOMER_FILE_SOURCES.includes(customerFileSource)) {
    throw invalidParameter(`Param customer_file_source must be one of {${CUSTOMER_FILE_SOURCES.join(', ')}}`);
  }
  return { customerFileSource, isValueBased: booleanParameter(call.params, 'is_value_based'), lookalike: null };
}

const lookalikeSpecSchema = z.object({
  type: z.string().optional(),
  ratio: z.coerce.number(),
  country: z.string(),
  allow_international_seeds: z.union([z.boolean(), z.enum(['true', 'false'])]).optional(),
});

/**
 * A lookalike's seed and spec, checked as Meta does (reference §6, §10): the seed is a live customer list of the
 * same ad account holding at least 100 people, at least 100 of them from the chosen country unless
 * `allow_international_seeds`; the ratio is 0.01 to 0.10; the country an ISO 3166-1 alpha-2 code. The emulator
 * knows a seed row's country only from its COUNTRY cell.
 */
async function newLookalike(context: EmulatorContext, adAccountId: string, call: GraphCall): Promise<Lookalike> {
  const originAudienceId = String(call.params['origin_audience_id']);
  const spec = parseObjectParameter(call.params, 'lookalike_spec', lookalikeSpecSchema);
  if (spec === undefined) throw missingParameter('lookalike_spec');
  if (!(spec.ratio >= MIN_LOOKALIKE_RATIO && spec.ratio <= MAX_LOOKALIKE_RATIO)) {
    throw invalidParameter(`Param lookalike_spec.ratio must be between ${MIN_LOOKALIKE_RATIO} and ${MAX_LOOKALIKE_RATIO}`);
  }
  const country = spec.country.toUpperCase();
  if (!isoCountries.isValid(country) || country.length !== 2) {
    throw invalidParameter('Param lookalike_spec.country must be an ISO 3166-1 alpha-2 country code');
  }
  const origin = /^\d+$/.test(originAudienceId) ? await context.audience(originAudienceId) : undefined;
  if (!origin || origin.deletedAt !== null || origin.adAccountId !== adAccountId || origin.subtype !== 'CUSTOM') {
    throw invalidParameter('Param origin_audience_id must be a customer list audience of this ad account');
  }
  if (origin.rowCount < MIN_SEED_PEOPLE) {
    throw new GraphErrorResponse(100, undefined, {
      message: `(#100) The source audience must contain at least ${MIN_SEED_PEOPLE} people to create a lookalike audience`,
    });
  }
  const international = spec.allow_international_seeds === true || spec.allow_international_seeds === 'true';
  const fromCountry = international ? MIN_SEED_PEOPLE : await context.store.countRowsWithCountry(origin, sha256Hex(country.toLowerCase()));
  if (fromCountry < MIN_SEED_PEOPLE) {
    throw new GraphErrorResponse(100, undefined, {
      message:
        `(#100) The source audience must contain at least ${MIN_SEED_PEOPLE} people from ${country}, ` +
        'or allow_international_seeds must be set',
    });
  }
  return { originAudienceId, ratio: spec.ratio, country };
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
      data: page.map((audience) => audienceView(audience, fields, context.statusOverrides.get(audience.id))),
      paging: { cursors, ...(audiences.length > limit ? { next: next.toString() } : {}) },
    },
    rows: 0,
  };
}

export function readAudience(context: EmulatorContext, audience: AudienceRecord, call: GraphCall): GraphAnswer {
  const fields = requestedFields(call.params['fields'], 'CustomAudience', AUDIENCE_FIELD_NAMES);
  return { body: audienceView(audience, fields, context.statusOverrides.get(audience.id)), rows: 0 };
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
  if ((await context.store.lookalikesOf(audience.id)).length > 0) throw new GraphErrorResponse(2656);
  await context.store.deleteAudience(audience.id);
  return { body: { success: true }, rows: 0 };
}

/** Form bodies carry booleans as text; Meta's examples write `is_value_based=1`. */
function booleanParameter(params: Record<string, unknown>, name: string): boolean {
  const value = params[name];
  if (value === undefined) return false;
  if (value === true || value === 1 || value === '1' || value === 'true') return true;
  if (value === false || value === 0 || value === '0' || value === 'false') return false;
  throw invalidParameter(`Param ${name} must be a boolean`);
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
