import type { ActivityDependencies } from './dependencies';
import { createLifecycleActivities } from './audience-lifecycle';
import { createPreparationActivities } from './cycle-preparation';
import { createUploadActivities } from './cycle-upload';
import { createClosingActivities } from './cycle-closing';
import { createSourceAccessActivities } from './source-access';
import { createLookalikeActivities } from './lookalikes';
import { createAudienceAtMetaActivities } from './audience-at-meta';

export function createActivities(deps: ActivityDependencies) {
  return {
    ...createLifecycleActivities(deps),
    ...createPreparationActivities(deps),
    ...createUploadActivities(deps),
    ...createClosingActivities(deps),
    ...createSourceAccessActivities(deps),
    ...createLookalikeActivities(deps),
    ...createAudienceAtMetaActivities(deps),
  };
}

export type AudienceSyncActivities = ReturnType<typeof createActivities>;
export type { ActivityDependencies } from './dependencies';
