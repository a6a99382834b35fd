import { approximateSizeOf, statusCodeOf } from '../facebook/graph-responses';
import type { MetaView } from '../workflows/meta-view';
import type { ActivityDependencies } from './dependencies';
import { callMeta } from './ad-account-gate';

const VIEW_FIELDS = ['approximate_count_lower_bound', 'approximate_count_upper_bound', 'delivery_status', 'operation_status'];

export function createAudienceAtMetaActivities(deps: ActivityDependencies) {
  const { graph, metrics } = deps;
  return {
    /** One read of what Meta makes of the audience, once per cycle: cheap, and never a reason for a cycle to fail. */
    async readAudienceAtMeta(input: { audienceKey: string; adAccountId: string; fbAudienceId: string }): Promise<MetaView> {
      const audience = await callMeta(deps, input.adAccountId, () => graph.getCustomAudience(input.fbAudienceId, VIEW_FIELDS));
      const view: MetaView = {
        readAt: new Date().toISOString(),
        approximateSize: approximateSizeOf(audience),
        deliveryStatus: statusCodeOf(audience, 'delivery_status'),
        operationStatus: statusCodeOf(audience, 'operation_status'),
      };
      metrics.approximateSize(input.audienceKey, view.approximateSize);
      return view;
    },
  };
}
