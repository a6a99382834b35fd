import { randomInt } from 'node:crypto';
import { dataSourceOf } from './audience-fields';
import type { AudienceRecord } from './audience-store';
import type { EmulatorContext } from './emulator-context';
import type { GraphAnswer, GraphCall } from './audience-endpoints';
import { GraphErrorResponse } from './graph-error-response';
import { parseUsersUpload } from './users-request';

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
  context.access.assertTermsAccepted(audience.adAccountId);
  const upload = parseUsersUpload(call.params);
  const adding = call.method === 'POST';

  const heldSchema =
    audience.uploadSchema ?? (adding ? await context.store.claimUploadSchema(audience.id, upload.schema) : null);
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

function sameSchema(held: readonly string[], sent: readonly string[]): boolean {
  return held.length === sent.length && held.every((key, index) => key === sent[index]);
}

function dataSourceMismatch(held: readonly string[], sent: readonly string[]): GraphErrorResponse {
  const heldSource = dataSourceOf(held);
  return new GraphErrorResponse(2650, undefined, {
    message:
      `(#2650) Failed to update the custom audience: it was created from data source ${heldSource.type}.${heldSource.sub_type} ` +
      `with schema [${held.join(',')}], which does not support an upload with schema [${sent.join(',')}]`,
  });
}
