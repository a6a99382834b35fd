import { randomInt } from 'node:crypto';
import { dataSourceOf, sameSchema } from './audience-fields';
import type { AudienceRecord } from './audience-store';
import type { EmulatorContext } from './emulator-context';
import type { GraphAnswer, GraphCall } from './audience-endpoints';
import { GraphErrorResponse, invalidParameter, missingParameter } from './graph-error-response';
import { parseUsersUpload, type UsersUpload } from './users-request';

/** Session ids Meta assigns when a client sends none; kept within JavaScript's safe integers. */
const MAX_ASSIGNED_SESSION_ID = 2 ** 47;

/**
 * POST /{id}/users adds rows and DELETE /{id}/users removes them, with set semantics: adding a row the audience
 * holds, or removing one it does not, changes nothing. The audience's first upload fixes its schema; an upload
 * with another schema fails with 2650, as Meta's data-source check does (reference §3.1).
 */
export async function changeAudienceUsers(
  context: EmulatorContext,
  audience: AudienceRecord,
  call: GraphCall,
): Promise<GraphAnswer> {
  const upload = uploadOf(context, audience, call);
  const adding = call.method === 'POST';
  // Meta asks not to call /users while a replace runs (reference §4); the emulator refuses it as being updated.
  if (audience.replace) throw new GraphErrorResponse(2650, REPLACE_SUBCODES.busy);
  const heldSchema = adding ? await claimedSchema(context, audience, upload.schema) : audience.uploadSchema;
  if (heldSchema !== null && !sameSchema(heldSchema, upload.schema)) throw dataSourceMismatch(heldSchema, upload.schema);

  if (upload.validRows.length > 0 && heldSchema !== null) {
    if (adding) {
      await context.store.addRows(audience.id, upload.validRows);
    } else {
      const outcome = await context.store.removeRows(audience.id, upload.validRows, context.settings.minAudienceRows);
      if (outcome.refused) throw new GraphErrorResponse(200, 1870047);
    }
  }

  const sessionId = upload.session?.sessionId ?? randomInt(1, MAX_ASSIGNED_SESSION_ID);
  const totals = await context.store.recordSessionBatch(audience.id, sessionId, {
    received: upload.receivedCount,
    invalid: upload.invalidCount,
    batchSeq: upload.session?.batchSeq ?? null,
    lastBatch: upload.session?.lastBatch ?? false,
  });
  return {
    body: {
      audience_id: audience.id,
      session_id: String(sessionId),
      num_received: totals.numReceived,
      num_invalid_entries: totals.numInvalidEntries,
      invalid_entry_samples: upload.invalidSamples,
    },
    rows: upload.receivedCount,
  };
}

/** 2650 subcodes of usersreplace (reference §4), by what became of the batch. */
const REPLACE_SUBCODES = { busy: 1870145, not_started: 1870147, finished: 1870159, timed_out: 1870158 } as const;

/**
 * POST /{id}/usersreplace: batches of one session (session_id, batch_seq from 1, last_batch_flag) that together
 * become the audience's whole membership when the last one arrives, in one swap. Meanwhile the audience is
 * `replace in progress` (414) and refuses /users; the session takes batches for `replaceWindowMs` (Meta: 90
 * minutes) after its first, and ends then with what it received. Batches out of Meta's rules answer 2650 with
 * Meta's subcodes.
 */
export async function replaceAudienceUsers(
  context: EmulatorContext,
  audience: AudienceRecord,
  call: GraphCall,
): Promise<GraphAnswer> {
  const upload = uploadOf(context, audience, call);
  if (upload.session === undefined) throw missingParameter('session');
  // A replace loads a new set of rows, in any schema of the audience's data source (multi-key or single-key); the
  // session's schema becomes the audience's when it ends.
  const held = audience.uploadSchema;
  if (held !== null && dataSourceOf(held).sub_type !== dataSourceOf(upload.schema).sub_type) {
    throw dataSourceMismatch(held, upload.schema);
  }

  const outcome = await context.store.replaceBatch(
    audience.id,
    {
      schema: upload.schema,
      sessionId: upload.session.sessionId,
      batchSeq: upload.session.batchSeq,
      lastBatch: upload.session.lastBatch,
      rows: upload.validRows,
      received: upload.receivedCount,
      invalid: upload.invalidCount,
    },
    context.settings.replaceWindowMs,
  );
  if (outcome.kind === 'schema_mismatch') throw dataSourceMismatch(outcome.sessionSchema, upload.schema);
  if (outcome.kind !== 'accepted') throw new GraphErrorResponse(2650, REPLACE_SUBCODES[outcome.kind]);
  return {
    body: {
      audience_id: audience.id,
      session_id: String(upload.session.sessionId),
      num_received: outcome.totals.numReceived,
      num_invalid_entries: outcome.totals.numInvalidEntries,
      invalid_entry_samples: upload.invalidSamples,
    },
    rows: upload.receivedCount,
  };
}

/**
 * The rows and session a call carries, once the account may edit audiences. A lookalike takes no rows; a
 * value-based audience takes only rows with LOOKALIKE_VALUE, and any other only rows without it (reference §6).
 */
function uploadOf(context: EmulatorContext, audience: AudienceRecord, call: GraphCall): UsersUpload {
  context.access.assertTermsAccepted(audience.adAccountId);
  if (audience.lookalike) throw invalidParameter('A lookalike audience takes no uploaded users');
  const upload = parseUsersUpload(call.params);
  if (upload.schema.includes('LOOKALIKE_VALUE') !== audience.isValueBased) {
    throw new GraphErrorResponse(2650, undefined, {
      message: audience.isValueBased
        ? '(#2650) Failed to update the custom audience: a value-based audience needs LOOKALIKE_VALUE in the schema'
        : '(#2650) Failed to update the custom audience: LOOKALIKE_VALUE is only for value-based audiences',
    });
  }
  return upload;
}

/** The audience's upload schema: the one it holds, or `schema` when this is its first upload. */
async function claimedSchema(context: EmulatorContext, audience: AudienceRecord, schema: string[]): Promise<string[]> {
  return audience.uploadSchema ?? context.store.claimUploadSchema(audience.id, schema);
}


function dataSourceMismatch(held: readonly string[], sent: readonly string[]): GraphErrorResponse {
  const heldSource = dataSourceOf(held);
  return new GraphErrorResponse(2650, undefined, {
    message:
      `(#2650) Failed to update the custom audience: it was created from data source ${heldSource.type}.${heldSource.sub_type} ` +
      `with schema [${held.join(',')}], which does not support an upload with schema [${sent.join(',')}]`,
  });
}
