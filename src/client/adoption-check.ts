import type { Environment } from '../config/environment';
import { ADOPTION_FIELDS, adoptionNotFound, adoptionProblem } from '../facebook/audience-adoption';
import { GraphClient } from '../facebook/graph-client';
import { GraphApiError } from '../facebook/graph-error';
import { UserFacingError } from './audience-client';

/**
 * Reads the Custom Audience `connect --custom-audience-id` names and refuses one that does not fit, before any
 * workflow exists. Without FB_ACCESS_TOKEN in the CLI's environment it cannot ask Meta, and leaves the same check
 * to the worker, which makes it before adopting.
 */
export async function checkAdoptable(
  environment: Environment,
  adAccountId: string,
  customAudienceId: string,
  valueBased: boolean,
): Promise<void> {
  if (!environment.FB_ACCESS_TOKEN) return;
  const graph = new GraphClient({
    baseUrl: environment.FB_GRAPH_URL,
    apiVersion: environment.FB_API_VERSION,
    accessToken: environment.FB_ACCESS_TOKEN,
  });
  let audience: Record<string, unknown>;
  try {
    audience = await graph.getCustomAudience(customAudienceId, [...ADOPTION_FIELDS]);
  } catch (error) {
    if (error instanceof GraphApiError && error.kind === 'audience_gone') throw new UserFacingError(adoptionNotFound(customAudienceId));
    throw new UserFacingError(`Cannot read Custom Audience ${customAudienceId} at Meta to check it: ${(error as Error).message}`);
  }
  const problem = adoptionProblem(audience, adAccountId, valueBased);
  if (problem) throw new UserFacingError(problem);
}
