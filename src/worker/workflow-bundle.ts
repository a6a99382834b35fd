import path from 'node:path';

/** Where `npm run build` writes the bundled workflow code (dist/workflow-bundle.js). */
export const WORKFLOW_BUNDLE_PATH = path.resolve(__dirname, '../../workflow-bundle.js');
