import { z } from 'zod';

/** Shapes of the Graph API answers this client reads. Graph serialises ids and counts as strings or numbers. */

const numericId = z.union([z.string(), z.number()]).transform(String);

export const errorEnvelopeSchema = z.object({
  error: z.object({
    message: z.string().optional(),
    type: z.string().optional(),
    code: z.coerce.number().int().optional(),
    error_subcode: z.coerce.number().int().optional(),
    fbtrace_id: z.string().optional(),
    is_transient: z.boolean().optional(),
    error_user_title: z.string().optional(),
    error_user_msg: z.string().optional(),
  }),
});

export const createdObjectSchema = z.object({ id: numericId });

export const graphObjectSchema = z.record(z.string(), z.unknown());

export const successSchema = z.object({ success: z.boolean() });

export const listPageSchema = z.object({
  data: z.array(graphObjectSchema),
  paging: z
    .object({
      cursors: z.object({ before: z.string().optional(), after: z.string().optional() }).optional(),
      next: z.string().optional(),
    })
    .optional(),
});

/** Meta's serialiser answers an empty map as `[]`. */
const invalidEntrySamplesSchema = z
  .union([graphObjectSchema, z.array(z.unknown())])
  .transform((samples): Record<string, unknown> => (Array.isArray(samples) ? { ...samples } : samples));

/** usersreplace answers with the same fields, except that Meta's guide names `account_id` where /users has `audience_id`. */
export const usersResponseSchema = z.object({
  audience_id: numericId.optional(),
  session_id: z.union([z.string(), z.number()]),
  num_received: z.coerce.number(),
  num_invalid_entries: z.coerce.number(),
  invalid_entry_samples: invalidEntrySamplesSchema.optional(),
});

export const termsOfServiceSchema = z.object({
  tos_accepted: z.record(z.string(), z.unknown()).optional(),
});

/** Meta's size range of a read or listed audience; null when it gives none, or -1 (not known yet). */
export function approximateSizeOf(audience: Record<string, unknown>): { lower: number; upper: number } | null {
  const lower = Number(audience['approximate_count_lower_bound']);
  const upper = Number(audience['approximate_count_upper_bound']);
  return Number.isFinite(lower) && Number.isFinite(upper) && lower >= 0 && upper >= 0 ? { lower, upper } : null;
}

const statusCodeSchema = z.object({ code: z.coerce.number().int(), description: z.string().default('') });

/** A `{code, description}` field (delivery_status, operation_status); null when Meta gives none. */
export function statusCodeOf(audience: Record<string, unknown>, field: string): { code: number; description: string } | null {
  const parsed = statusCodeSchema.safeParse(audience[field]);
  return parsed.success ? parsed.data : null;
}

/** An audience's `operation_status` code (reference §2.4), read or listed; undefined when Meta gave none. */
export function operationStatusCode(audience: Record<string, unknown>): number | undefined {
  return statusCodeOf(audience, 'operation_status')?.code;
}
