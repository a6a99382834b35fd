import { GraphApiError } from '../facebook/graph-error';
import { approximateSizeOf } from '../facebook/graph-responses';
import { lookalikeLabel, lookalikeName, type LookalikeSpec, type LookalikeState } from '../workflows/lookalike-spec';
import type { ActivityDependencies } from './dependencies';
import { callForAdAccount, callMeta } from './ad-account-gate';
import { graphFailure } from './graph-failures';

export interface KeepLookalikesInput {
  audienceKey: string;
  adAccountId: string;
  /** The seed: the audience's Custom Audience. */
  seedId: string;
  /** The seed's name, which each lookalike's name starts with. */
  seedName: string;
  lookalikes: LookalikeSpec[];
}

/**
 * The tag in the description of each lookalike we create. As for the seed, finding it again is what makes creation
 * idempotent: a retried attempt finds the lookalike it made instead of making a second.
 */
export function lookalikeTag(audienceKey: string, spec: LookalikeSpec): string {
  return `[audience-sync:${audienceKey}:lookalike:${spec.country}:${spec.percent}]`;
}

const LISTED_FIELDS = ['id', 'name', 'description', 'subtype', 'lookalike_spec', 'approximate_count_lower_bound', 'approximate_count_upper_bound'];

export function createLookalikeActivities(deps: ActivityDependencies) {
  const { graph } = deps;

  return {
    /**
     * Makes each of the audience's lookalikes exist at Meta, built from its current seed and named after it: one
     * found by its tag is kept (and renamed if the seed was), one missing (never made, or deleted at Meta) is
     * created. Meta's refusal of one (a seed with too few people from that country, say) is reported for it,
     * not thrown: the audience's sync does not depend on its lookalikes.
     */
    async keepLookalikes(input: KeepLookalikesInput): Promise<LookalikeState[]> {
      const audiences = await callMeta(deps, input.adAccountId, () => graph.listCustomAudiences(input.adAccountId, LISTED_FIELDS));
      const states: LookalikeState[] = [];
      for (const spec of input.lookalikes) {
        const tag = lookalikeTag(input.audienceKey, spec);
        const name = lookalikeName(input.seedName, spec);
        const found = findLookalike(audiences, input.audienceKey, input.seedId, spec);
        if (found) {
          const id = String(found.id);
          if (found.name !== name) await callMeta(deps, input.adAccountId, () => graph.renameCustomAudience(id, name));
          states.push({ ...spec, id, approximateSize: approximateSizeOf(found) });
          continue;
        }
        try {
          const { id } = await callForAdAccount(deps, input.adAccountId, () =>
            graph.createLookalike(input.adAccountId, {
              name,
              description: `Lookalike of audience ${input.audienceKey}, kept by audience-sync ${tag}`,
              originAudienceId: input.seedId,
              ratio: spec.percent / 100,
              country: spec.country,
            }),
          );
          states.push({ ...spec, id, approximateSize: null });
        } catch (error) {
          if (!(error instanceof GraphApiError && error.kind === 'invalid_request')) throw graphFailure(error);
          const problem = `Meta did not create the lookalike ${lookalikeLabel(spec)}: ${error.metaMessage ?? error.reason}`;
          states.push({ ...spec, id: null, approximateSize: null, problem });
        }
      }
      return states;
    },

    /**
     * `lookalike remove --delete-at-meta`: finds the lookalike by its tag, as keepLookalikes does, and deletes it.
     * Returns whether Meta held it (one already gone is as good as deleted).
     */
    async deleteLookalike(input: { audienceKey: string; adAccountId: string; seedId: string; lookalike: LookalikeSpec }): Promise<boolean> {
      const audiences = await callMeta(deps, input.adAccountId, () => graph.listCustomAudiences(input.adAccountId, LISTED_FIELDS));
      const found = findLookalike(audiences, input.audienceKey, input.seedId, input.lookalike);
      if (!found) return false;
      try {
        await callForAdAccount(deps, input.adAccountId, () => graph.deleteCustomAudience(String(found.id)));
        return true;
      } catch (error) {
        if (error instanceof GraphApiError && error.kind === 'audience_gone') return false;
        throw graphFailure(error);
      }
    },
  };
}

/** The audience's lookalike of `spec` among the account's audiences: tagged by us, built from the current seed. */
function findLookalike(
  audiences: Array<Record<string, unknown>>,
  audienceKey: string,
  seedId: string,
  spec: LookalikeSpec,
): Record<string, unknown> | undefined {
  const tag = lookalikeTag(audienceKey, spec);
  return audiences.find(
    (audience) => audience.subtype === 'LOOKALIKE' && String(audience.description ?? '').includes(tag) && originOf(audience) === seedId,
  );
}

/** The seed a listed lookalike was built from (`lookalike_spec.origin`). */
function originOf(audience: Record<string, unknown>): string | undefined {
  const spec = audience.lookalike_spec as { origin?: Array<{ id?: unknown }> } | undefined;
  const id = spec?.origin?.[0]?.id;
  return id === undefined ? undefined : String(id);
}
