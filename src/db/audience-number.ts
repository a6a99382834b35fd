import { SCHEMA, type Queryable } from './pool';
import { StateInvariantError } from './state-invariant';

/**
 * The number the member tables (audience_members, audience_rows, pending_rows) name the audience by: its key, in
 * each of a member's rows and index entries, took some 75 of the 820 bytes a member's state was. Statements take
 * the number as a parameter rather than look it up in a subquery: PostgreSQL then plans each for the audience's
 * own size, which, with audiences of ten thousand and ten million members side by side, decides between looking
 * rows up and reading a whole table.
 */
export async function audienceNumber(client: Queryable, audienceKey: string): Promise<number> {
  const number = await findAudienceNumber(client, audienceKey);
  if (number === undefined) throw new StateInvariantError(`audience ${audienceKey} has no record`);
  return number;
}

/** The audience's number, or undefined when it has no record, and so nothing in the member tables. */
export async function findAudienceNumber(client: Queryable, audienceKey: string): Promise<number | undefined> {
  const { rows } = await client.query<{ audience_no: number }>(
    `SELECT audience_no FROM ${SCHEMA}.audiences WHERE audience_key = $1`,
    [audienceKey],
  );
  return rows[0]?.audience_no;
}
