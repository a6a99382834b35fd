import { ApplicationFailure } from '@temporalio/activity';
import type { PoolClient } from 'pg';
import { markReplaceDue, saveAudience, readAudience, type AudienceRecord } from '../db/audiences';
import { forgetSyncedRows } from '../db/change-plan';
import { inTransaction, SCHEMA } from '../db/pool';
import type { CustomerFileSource } from '../workflows/audience-config';
import type { ActivityDependencies } from './dependencies';
import { graphFailure } from './graph-failures';
import { callForAdAccount, callMeta } from './ad-account-gate';
import { GraphApiError } from '../facebook/graph-error';
import { operationStatusCode } from '../facebook/graph-responses';
import { ADOPTION_FIELDS, adoptionNotFound, adoptionProblem, valueBasedMismatch } from '../facebook/audience-adoption';
import { FailureType } from '../workflows/failure-types';

export interface EnsureAudienceInput {
  audienceKey: string;
  adAccountId: string;
  name: string;
  customerFileSource: CustomerFileSource;
  /** A value-based audience (`connect --value-column`): created so, and one found must be so too. */
  valueBased: boolean;
  /** An audience Meta reported gone: never reuse it. */
  goneFbAudienceId?: string;
}

export interface AdoptAudienceInput {
  audienceKey: string;
  adAccountId: string;
  name: string;
  fbAudienceId: string;
  valueBased: boolean;
}

export interface AccessCheckInput {
  adAccountId: string;
  fbAudienceId?: string;
  /** Check the ad account's Custom Audience terms instead of reading the audience. */
  termsOnly: boolean;
}

export type AccessCheck =
  | { status: 'ok' }
  | { status: 'needs_person'; reason: string; graphCode?: number; graphSubcode?: number }
  | { status: 'audience_gone' };

/** operation_status of an audience that has not received any upload (reference §2.4). */
const NO_UPLOAD_YET = 410;

/**
 * Records `audience.fbAudienceId` as the key's Custom Audience, in the caller's transaction, and returns what was
 * recorded before. Rows our tables say Meta holds belong to the audience used before, if it was another one: the
 * one now in use is owed all of them, so they are pending addition again.
 */
async function useAudience(client: PoolClient, audience: AudienceRecord & { fbAudienceId: string }): Promise<AudienceRecord | undefined> {
  const known = await readAudience(client, audience.audienceKey);
  if (known?.fbAudienceId && known.fbAudienceId !== audience.fbAudienceId) await forgetSyncedRows(client, audience.audienceKey);
  await saveAudience(client, {
    audienceKey: audience.audienceKey,
    adAccountId: audience.adAccountId,
    name: audience.name,
    fbAudienceId: audience.fbAudienceId,
  });
  return known;
}

/**
 * The tag we put in the description of every audience we create. Finding it again is what makes creation
 * idempotent: a retry after a crash between Meta's answer and our own write finds the audience instead of
 * creating a second one.
 */
export function audienceTag(audienceKey: string): string {
  return `[audience-sync:${audienceKey}]`;
}

export function createLifecycleActivities(deps: ActivityDependencies) {
  const { pool, graph } = deps;

  return {
    async ensureCustomAudience(input: EnsureAudienceInput): Promise<{ fbAudienceId: string; created: boolean }> {
      const tag = audienceTag(input.audienceKey);
      const existing = await callMeta(deps, input.adAccountId, () =>
        graph.listCustomAudiences(input.adAccountId, ['id', 'description', 'operation_status', 'is_value_based']),
      );
      const found = existing.find(
        (audience) => String(audience.description ?? '').includes(tag) && audience.id !== input.goneFbAudienceId,
      );
      const mismatch = found && valueBasedMismatch(found, input.valueBased);
      if (mismatch) {
        throw ApplicationFailure.nonRetryable(
          `Custom Audience ${String(found.id)}, created by an earlier connection of ${input.audienceKey}, ${mismatch}; ` +
            'a Custom Audience cannot switch between value-based and not, so connect a new audience key instead.',
          FailureType.AdoptionRefused,
        );
      }
      const fbAudienceId = found
        ? String(found.id)
        : (
            await callMeta(deps, input.adAccountId, () =>
              graph.createCustomAudience(input.adAccountId, {
                name: input.name,
                description: `Synced by audience-sync from audience ${input.audienceKey} ${tag}`,
                customerFileSource: input.customerFileSource,
                isValueBased: input.valueBased,
              }),
            )
          ).id;

      await inTransaction(pool, async (client) => {
        const known = await useAudience(client, { ...input, fbAudienceId });
        // An audience found from an earlier connection may hold rows our tables know nothing of (they were wiped
        // meanwhile): its first cycle replaces them. One that never received an upload holds nothing.
        if (found && known?.fbAudienceId !== fbAudienceId && operationStatusCode(found) !== NO_UPLOAD_YET) {
          await markReplaceDue(client, input.audienceKey, 'found_without_records');
        }
      });
      return { fbAudienceId, created: !found };
    },

    /**
     * Takes over an existing Custom Audience (`connect --custom-audience-id`) once it is checked to fit the
     * connection. Its first cycle replaces its membership, since what it holds is not known. Returns its name at
     * Meta, which the workflow renames to the connection's name if they differ.
     */
    async adoptCustomAudience(input: AdoptAudienceInput): Promise<{ fbAudienceId: string; nameAtMeta: string }> {
      const audience = await callMeta(deps, input.adAccountId, () =>
        graph.getCustomAudience(input.fbAudienceId, [...ADOPTION_FIELDS]),
      ).catch((error: unknown) => {
        if (error instanceof ApplicationFailure && error.type === FailureType.AudienceGone) {
          throw ApplicationFailure.nonRetryable(adoptionNotFound(input.fbAudienceId), FailureType.AdoptionRefused);
        }
        throw error;
      });
      const problem = adoptionProblem(audience, input.adAccountId, input.valueBased);
      if (problem) throw ApplicationFailure.nonRetryable(problem, FailureType.AdoptionRefused);
      await inTransaction(pool, async (client) => {
        await useAudience(client, input);
        await markReplaceDue(client, input.audienceKey, 'adopted');
      });
      return { fbAudienceId: input.fbAudienceId, nameAtMeta: String(audience.name ?? '') };
    },

    async renameCustomAudience(input: {
      audienceKey: string;
      adAccountId: string;
      fbAudienceId: string;
      name: string;
    }): Promise<void> {
      await callMeta(deps, input.adAccountId, () => graph.renameCustomAudience(input.fbAudienceId, input.name));
      await pool.query(`UPDATE ${SCHEMA}.audiences SET name = $2, updated_at = now() WHERE audience_key = $1`, [
        input.audienceKey,
        input.name,
      ]);
    },

    /** The one cheap call a parked audience makes per interval to learn whether a person has fixed things. */
    async checkAudienceAccess(input: AccessCheckInput): Promise<AccessCheck> {
      try {
        if (input.termsOnly || !input.fbAudienceId) {
          const accepted = await callForAdAccount(deps, input.adAccountId, () =>
            graph.getAdAccountTermsAccepted(input.adAccountId),
          );
          return accepted
            ? { status: 'ok' }
            : {
                status: 'needs_person',
                reason:
                  'The Custom Audience terms are not accepted for this ad account: a person in the business must accept ' +
                  `them at https://business.facebook.com/ads/manage/customaudiences/tos/?act=${input.adAccountId.replace(/^act_/, '')}`,
              };
        }
        const audienceId = input.fbAudienceId;
        await callForAdAccount(deps, input.adAccountId, () => graph.getCustomAudience(audienceId, ['id']));
        return { status: 'ok' };
      } catch (error) {
        if (error instanceof GraphApiError && error.kind === 'needs_person') {
          return { status: 'needs_person', reason: error.reason, graphCode: error.code, graphSubcode: error.subcode };
        }
        if (error instanceof GraphApiError && error.kind === 'audience_gone') return { status: 'audience_gone' };
        throw graphFailure(error);
      }
    },
  };
}
