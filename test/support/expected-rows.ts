import { createHash } from 'node:crypto';
import type { Pool } from 'pg';

/**
 * Test members whose identifiers are already in Meta's normalized form, so the rows Meta should hold can be
 * computed here with nothing but SHA-256: an oracle independent of the code under test.
 */
export interface TestMember {
  userId: string;
  emails: string[];
  /** E.164 digits without '+', written to the source as '+<digits>'. */
  phone?: string;
}

export function sha256(value: string): string {
  return createHash('sha256').update(value).digest('hex');
}

export function member(n: number, variant = 0): TestMember {
  return {
    userId: `m${n}`,
    emails: n % 10 === 0 ? [`member${n}.${variant}@example.com`, `alt${n}.${variant}@example.org`] : [`member${n}.${variant}@example.com`],
    ...(n % 3 === 0 ? {} : { phone: `1202555${String(1000 + (n % 9000)).padStart(4, '0')}` }),
  };
}

export async function createMemberTable(pool: Pool, table: string): Promise<void> {
  await pool.query(`DROP TABLE IF EXISTS ${table}`);
  await pool.query(`CREATE TABLE ${table} (user_id text PRIMARY KEY, email text, phone text, traits jsonb NOT NULL DEFAULT '{}')`);
}

/** Writes the members as a source query sees them: first email in a column, the others in traits.emails. */
export async function writeMembers(pool: Pool, table: string, members: TestMember[]): Promise<void> {
  await pool.query(`TRUNCATE ${table}`);
  await pool.query(
    `INSERT INTO ${table} (user_id, email, phone, traits)
     SELECT * FROM unnest($1::text[], $2::text[], $3::text[], $4::jsonb[])`,
    [
      members.map((m) => m.userId),
      members.map((m) => m.emails[0]),
      members.map((m) => (m.phone ? `+${m.phone}` : null)),
      members.map((m) => JSON.stringify(m.emails.length > 1 ? { emails: m.emails.slice(1) } : {})),
    ],
  );
}

/** The rows Meta should hold for these members, as sorted JSON texts in the given schema's column order. */
export function expectedRows(schema: string[], members: TestMember[]): string[] {
  const rows: string[] = [];
  for (const m of members) {
    for (const email of m.emails) {
      const values: Record<string, string> = { EMAIL: sha256(email) };
      if (m.phone) values.PHONE = sha256(m.phone);
      rows.push(JSON.stringify(schema.map((key) => values[key] ?? '')));
    }
  }
  return rows.sort();
}

export function asSortedJson(rows: unknown[][]): string[] {
  return rows.map((row) => JSON.stringify(row)).sort();
}
