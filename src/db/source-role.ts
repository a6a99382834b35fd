import { SCHEMA, type Queryable } from './pool';

/** The README section that shows how to create a role audiences may run as. */
export const SECURITY_SECTION = 'the README\'s "Security" section';

/** The schema the Graph API emulator keeps its state in unless told otherwise. */
const EMULATOR_SCHEMA = 'graph_emulator';

/**
 * Built-in roles whose members can reach past the database: the server's files and programs, or other sessions.
 * Each with what it lets a query do.
 */
const SERVER_ROLES: Record<string, string> = {
  pg_read_server_files: 'read files on the database server',
  pg_write_server_files: 'write files on the database server',
  pg_execute_server_program: 'run programs on the database server',
  pg_signal_backend: "end other roles' sessions",
};

const PRIVATE_SCHEMAS: Record<string, string> = {
  [SCHEMA]: "audience-sync's own tables",
  [EMULATOR_SCHEMA]: "the Graph API emulator's tables",
};

/** The role source queries run as, and what it can do that an audience's query must not. */
export interface SourceRole {
  name: string;
  /** Ends of a sentence ("is a superuser", "can run programs on the database server (pg_execute_server_program)"); empty when the role is fit. */
  excess: string[];
}

/**
 * Finds what the connected role can do beyond reading: be or become a superuser, act on the server's files,
 * programs or other sessions through a built-in role, or read our state or the emulator's. Memberships count
 * whether or not they are inherited, since an audience's query can SET ROLE through set_config.
 */
export async function inspectSourceRole(db: Queryable): Promise<SourceRole> {
  const { rows } = await db.query<{ name: string; superusers: string[]; server_roles: string[]; schemas: string[] }>(
    `WITH reachable AS (
       SELECT r.oid, r.rolname, r.rolsuper FROM pg_catalog.pg_roles r
        WHERE pg_catalog.pg_has_role(current_user, r.oid, 'MEMBER'))
     SELECT current_user::text AS name,
            ARRAY(SELECT rolname::text FROM reachable WHERE rolsuper ORDER BY rolname) AS superusers,
            ARRAY(SELECT rolname::text FROM reachable WHERE rolname = ANY ($1::text[]) ORDER BY rolname) AS server_roles,
            ARRAY(SELECT n.nspname::text FROM pg_catalog.pg_namespace n
                   WHERE n.nspname = ANY ($2::text[])
                     AND EXISTS (SELECT 1 FROM reachable m, pg_catalog.pg_class c
                                  WHERE c.relnamespace = n.oid AND c.relkind IN ('r', 'p', 'v', 'm', 'f')
                                    AND pg_catalog.has_schema_privilege(m.oid, n.oid, 'USAGE')
                                    AND pg_catalog.has_any_column_privilege(m.oid, c.oid, 'SELECT'))
                   ORDER BY n.nspname) AS schemas`,
    [Object.keys(SERVER_ROLES), Object.keys(PRIVATE_SCHEMAS)],
  );
  const found = rows[0];
  // A superuser can do all of it; saying so is enough.
  if (found.superusers.includes(found.name)) return { name: found.name, excess: ['is a superuser'] };
  const excess = [
    ...found.superusers.map((role) => `can become the superuser ${role}`),
    ...found.server_roles.map((role) => `can ${SERVER_ROLES[role]} (${role})`),
    ...found.schemas.map((schema) => `can read ${PRIVATE_SCHEMAS[schema]} (schema ${schema})`),
  ];
  return { name: found.name, excess };
}

/** One sentence naming the role, what it can do that it must not, and where the fix is. */
export function privilegedRoleSentence(role: SourceRole): string {
  return (
    `Audience queries run as the role ${role.name}, which ${listed(role.excess)}: ` +
    `point SOURCE_DATABASE_URL at a role that can only read the audience tables (${SECURITY_SECTION} shows how).`
  );
}

/** What `status` says when SOURCE_ALLOW_PRIVILEGED_ROLE lets cycles run as such a role anyway. */
export function privilegedRoleWarning(role: SourceRole): string {
  return `Runs privileged: audience queries run as the role ${role.name}, which ${listed(role.excess)} (SOURCE_ALLOW_PRIVILEGED_ROLE is set).`;
}

function listed(items: string[]): string {
  return items.length <= 1 ? items.join('') : `${items.slice(0, -1).join(', ')} and ${items[items.length - 1]}`;
}
