import { escapeIdentifier, escapeLiteral, type Pool } from 'pg';

/** What a reader role may read: named tables, or every table its creator makes in a schema from now on. */
export type ReaderGrants = { tables: string[] } | { futureTablesInSchema: string };

/**
 * Creates or updates a login role that can read the granted tables and nothing else of ours, the way the README's
 * "Security" section tells users to, and returns the URL to connect as it (the admin URL with the role's name and
 * password). The local stack, the end-to-end tests and the benchmarks run audience queries as such a role.
 */
export async function ensureReaderRole(
  admin: Pool,
  adminUrl: string,
  role: string,
  password: string,
  grants: ReaderGrants,
): Promise<string> {
  const name = escapeIdentifier(role);
  // CREATE ROLE has no IF NOT EXISTS; two processes starting at once may both try, and one finds it made.
  await admin.query(
    `DO $$ BEGIN CREATE ROLE ${name}; EXCEPTION WHEN duplicate_object OR unique_violation THEN NULL; END $$`,
  );
  await admin.query(`ALTER ROLE ${name} WITH LOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE PASSWORD ${escapeLiteral(password)}`);
  if ('tables' in grants) {
    for (const table of grants.tables) await admin.query(`GRANT SELECT ON ${table} TO ${name}`);
  } else {
    const schema = escapeIdentifier(grants.futureTablesInSchema);
    await admin.query(`ALTER DEFAULT PRIVILEGES IN SCHEMA ${schema} GRANT SELECT ON TABLES TO ${name}`);
  }
  const url = new URL(adminUrl);
  url.username = role;
  url.password = password;
  return url.toString();
}
