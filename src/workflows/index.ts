export { audienceSyncWorkflow } from './audience-sync-workflow';
