import { mkdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { bundleWorkflowCode, DefaultLogger } from '@temporalio/worker';
import { WORKFLOW_BUNDLE_PATH } from './workflow-bundle';

/**
 * Build step (`npm run build`): bundles the workflow code once, so a worker starts by loading a file instead of
 * running webpack, which costs seconds and a few hundred MB of memory it never gives back.
 */
async function main(): Promise<void> {
  const { code } = await bundleWorkflowCode({
    workflowsPath: require.resolve('../workflows'),
    logger: new DefaultLogger('WARN'),
  });
  mkdirSync(path.dirname(WORKFLOW_BUNDLE_PATH), { recursive: true });
  writeFileSync(WORKFLOW_BUNDLE_PATH, code);
}

main().catch((error: unknown) => {
  console.error(`bundle-workflows: ${String(error)}`);
  process.exit(1);
});
