import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';

/** The checkout's root, found from compiled (dist/src/...) and source (src/...) locations alike. */
export function projectRoot(from: string = __dirname): string {
  for (let dir = from; ; dir = path.dirname(dir)) {
    const manifest = path.join(dir, 'package.json');
    if (existsSync(manifest) && JSON.parse(readFileSync(manifest, 'utf8')).name === 'audience-sync') return dir;
    if (path.dirname(dir) === dir) throw new Error('cannot find the audience-sync checkout');
  }
}
