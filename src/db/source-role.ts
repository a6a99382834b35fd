import { DEFAULT_EMULATOR_SCHEMA } from '../emulator/store-schema';
import { SCHEMA, type Queryable } from './pool';

/** The README section that shows how to create a role audiences may run as. */
const SECURITY_SECTION = 'the README\'s "Security" section';


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

/** Functions that reach the server's files, revoked from PUBLIC by default: a grant of one is as good as a role. */
const SERVER_FUNCTIONS: Record<string, string> = {
  'pg_catalog.pg_read_file(text)': 'read files on the database server',
  'pg_catalog.pg_read_binary_file(text)': 'read files on the database server',
  'pg_catalog.pg_ls_dir(text)': 'list files on the database server',
  'pg_catalog.lo_import(text)': 'read files on the database server',
  'pg_catalog.lo_export(oid,text)': 'write files on the database server',
};

const PRIVATE_SCHEMAS: Record<string, string> = {
  [SCHEMA]: "audience-sync's own tables",
  // The schema the Graph API emulator keeps its state in unless told otherwise.
  [DEFAULT_EMULATOR_SCHEMA]: "the Graph API emulator's tables",
};

/** The role source queries run as, and what it can do that an audience's query must not. */
export interface SourceRole {
  /** The login role, and the role it acts as when that differs (`?options=-c role=…`, ALTER ROLE … SET role). */
  name: string;
  /** Ends of a sentence ("is a superuser", "can run programs on the database server (pg_execute_server_program)"); empty when the role is fit. */
  excess: string[];
}

/**
 * Finds what the connection's roles can do beyond reading: be or become a superuser, create replication slots,
 * act on the server's files, programs or other sessions through a built-in role or a function grant, or read our
 * state or the emulator's. Every role the login role (session_user) or the current role is a member of counts,
 * inherited or not: an audience's query can SET ROLE to any of them through set_config.
 */
export async function inspectSourceRole(db: Queryable): Promise<SourceRole> {
  const { rows } = await db.query<{
    session_role: string;
    current_role: string;
    superusers: string[];
    replicators: string[];
    server_roles: string[];
    functions: string[];
    schemas: string[];
  }>(
    `WITH reachable AS (
       SELECT r.oid, r.rolname, r.rolsuper, r.rolreplication FROM pg_catalog.pg_roles r
        WHERE pg_catalog.pg_has_role(session_user, r.oid, 'MEMBER') OR pg_catalog.pg_has_role(current_user, r.oid, 'MEMBER'))
     SELECT session_user::text AS session_role, current_user::text AS current_role,
            ARRAY(SELECT rolname::text FROM reachable WHERE rolsuper ORDER BY rolname) AS superusers,
            ARRAY(SELECT rolname::text FROM reachable WHERE rolreplication ORDER BY rolname) AS replicators,
            ARRAY(SELECT rolname::text FROM reachable WHERE rolname = ANY ($1::text[]) ORDER BY rolname) AS server_roles,
            ARRAY(SELECT f.signature FROM unnest($2::text[]) AS f(signature)
                   WHERE pg_catalog.to_regprocedure(f.signature) IS NOT NULL
                     AND EXISTS (SELECT 1 FROM reachable m
                                  WHERE pg_catalog.has_function_privilege(m.oid, pg_catalog.to_regprocedure(f.signature), 'EXECUTE'))
                   ORDER BY f.signature) AS functions,
            ARRAY(SELECT n.nspname::text FROM pg_catalog.pg_namespace n
                   WHERE n.nspname = ANY ($3::text[])
                     AND EXISTS (SELECT 1 FROM reachable m, pg_catalog.pg_class c
                                  WHERE c.relnamespace = n.oid AND c.relkind IN ('r', 'p', 'v', 'm', 'f')
                                    AND pg_catalog.has_schema_privilege(m.oid, n.oid, 'USAGE')
                                    AND pg_catalog.has_any_column_privilege(m.oid, c.oid, 'SELECT'))
                   ORDER BY n.nspname) AS schemas`,
    [Object.keys(SERVER_ROLES), Object.keys(SERVER_FUNCTIONS), Object.keys(PRIVATE_SCHEMAS)],
  );
  const found = rows[0];
  const self = [found.session_role, found.current_role];
  const name = found.session_role === found.current_role ? found.session_role : `${found.session_role} (acting as ${found.current_role})`;
  // A superuser can do all of the rest; saying so is enough.
  if (found.superusers.some((role) => self.includes(role))) return { name, excess: ['is a superuser'] };
  if (found.superusers.length > 0) return { name, excess: found.superusers.map((role) => `can become the superuser ${role}`) };
  const excess = [
    ...found.replicators.map((role) => `can create replication slots, which hold the server's WAL (REPLICATION of ${role})`),
    ...found.server_roles.map((role) => `can ${SERVER_ROLES[role]} (${role})`),
    ...found.functions.map((signature) => `can ${SERVER_FUNCTIONS[signature]} (EXECUTE on ${signature.replace(/^pg_catalog\.|\(.*$/g, '')})`),
    ...found.schemas.map((schema) => `can read ${PRIVATE_SCHEMAS[schema]} (schema ${schema})`),
  ];
  return { name, excess };
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
