import type { Pool } from 'pg';

/**
 * Synthetic customer profiles for the demo, the tests and the benchmarks, generated inside PostgreSQL so a
 * million of them take seconds. They are deliberately messy the way real CRM data is: mixed-case emails with
 * spaces, national and international phone numbers, accented names and cities, US state names and codes, ZIP+4,
 * country names instead of codes, some members with several emails in a `traits` jsonb column.
 */
export async function createProfilesTable(pool: Pool, table: string): Promise<void> {
  await pool.query(`
    CREATE TABLE IF NOT EXISTS ${table} (
      user_id      text PRIMARY KEY,
      email        text,
      phone        text,
      first_name   text,
      last_name    text,
      gender       text,
      birthday     date,
      city         text,
      state        text,
      zip          text,
      country_code text,
      plan         text NOT NULL,
      traits       jsonb NOT NULL DEFAULT '{}',
      updated_at   timestamptz NOT NULL DEFAULT now()
    )`);
}

/** Inserts profiles `u<first>` … `u<first + count - 1>`; the same numbers always give the same people. */
export async function insertProfiles(pool: Pool, table: string, first: number, count: number): Promise<void> {
  await pool.query(
    `INSERT INTO ${table} (user_id, email, phone, first_name, last_name, gender, birthday, city, state, zip,
                           country_code, plan, traits)
     SELECT 'u' || g,
            CASE WHEN h % 13 = 0 THEN '  User.' || g || '@Example.COM ' ELSE 'user' || g || '@example.com' END,
            CASE WHEN h % 10 = 0 THEN NULL
                 WHEN loc IN (0, 3) AND h % 2 = 0 THEN '(' || (200 + h % 700) || ') 555-' || lpad((g % 10000)::text, 4, '0')
                 WHEN loc IN (0, 3) THEN '+1 ' || (200 + h % 700) || ' 555 ' || lpad((g % 10000)::text, 4, '0')
                 WHEN loc = 1 THEN '+55 11 9' || lpad((g % 100000000)::text, 8, '0')
                 WHEN loc = 2 THEN '07700 ' || lpad((g % 1000000)::text, 6, '0')
                 ELSE '0044 44 ' || lpad((g % 10000000)::text, 7, '0') END,
            (ARRAY['Mary', 'José', 'Zoë', 'Li', 'Ann-Marie', 'Oluwaseun', 'Søren', 'Chloé'])[1 + h % 8],
            (ARRAY['Smith', 'García', 'O''Brien', 'Müller', 'Nguyen', 'Kowalski'])[1 + (h / 8) % 6],
            (ARRAY['f', 'Male', 'female', 'M', NULL])[1 + (h / 48) % 5],
            CASE WHEN h % 7 = 0 THEN NULL ELSE date '1950-01-01' + (h % 20000) END,
            (ARRAY['New York', 'São Paulo', 'London', 'San Francisco', 'Zürich'])[1 + loc],
            (ARRAY['NY', 'SP', NULL, 'California', 'ZH'])[1 + loc],
            (ARRAY['10001-' || lpad((h % 10000)::text, 4, '0'), '01310-100', 'SW1A 1AA', '94105', '8001'])[1 + loc],
            (ARRAY['US', 'Brazil', 'United Kingdom', 'us', 'CH'])[1 + loc],
            (ARRAY['free', 'pro', 'team'])[1 + (h / 240) % 3],
            CASE WHEN h % 10 = 3 THEN jsonb_build_object('emails', jsonb_build_array('alt' || g || '@example.org'))
                 ELSE '{}'::jsonb END
       FROM generate_series($1::bigint, $1::bigint + $2::bigint - 1) AS g,
            LATERAL (SELECT abs(hashtext('profile-' || g)) AS h) AS hashed,
            LATERAL (SELECT (h / 720) % 5 AS loc) AS location
     ON CONFLICT (user_id) DO NOTHING`,
    [first, count],
  );
}
