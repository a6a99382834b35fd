import type { Pool } from 'pg';

/**
 * Settings of the PostgreSQL that holds our state which make a large audience's first load slower, each with the
 * one line the worker logs when it starts. They are the server's to set, not audience-sync's, and cost nothing
 * until an audience of about a million members is first loaded, so the worker says so rather than refuses.
 */

/**
 * WAL a first load writes per member, as `npm run bench` measures it (655 B), with the full pages a checkpoint
 * during the load adds (README, "PostgreSQL for large audiences").
 */
export const FIRST_LOAD_WAL_BYTES_PER_MEMBER = 700;
/** 8 GB holds the WAL of a first load of some twelve million members without a checkpoint it asks for itself. */
export const ADVISED_MAX_WAL_BYTES = 8 * 1024 ** 3;

export interface ServerSetting {
  name: string;
  /** The value in bytes. */
  bytes: number;
}

const UNIT_BYTES: Readonly<Record<string, number>> = { B: 1, kB: 1024, '8kB': 8192, MB: 1024 ** 2, GB: 1024 ** 3 };

export async function readServerSettings(pool: Pool): Promise<ServerSetting[]> {
  const { rows } = await pool.query<{ name: string; setting: string; unit: string | null }>(
    `SELECT name, setting, unit FROM pg_settings WHERE name = 'max_wal_size'`,
  );
  return rows.map((row) => ({ name: row.name, bytes: Number(row.setting) * (UNIT_BYTES[row.unit ?? 'B'] ?? 1) }));
}

/**
 * A max_wal_size below the WAL of a large first load makes PostgreSQL checkpoint while it loads ("checkpoints are
 * occurring too frequently"), and every page written after a checkpoint goes to the WAL whole once more.
 */
export function slowFirstLoadHints(settings: readonly ServerSetting[]): string[] {
  const maxWal = settings.find((setting) => setting.name === 'max_wal_size');
  if (!maxWal || maxWal.bytes >= ADVISED_MAX_WAL_BYTES) return [];
  const members = Math.round(maxWal.bytes / FIRST_LOAD_WAL_BYTES_PER_MEMBER / 100_000) * 100_000;
  return [
    `PostgreSQL's max_wal_size is ${size(maxWal.bytes)}: a first load writes about ` +
      `${FIRST_LOAD_WAL_BYTES_PER_MEMBER / 1000} kB of WAL a member, so one of more than ${members.toLocaleString('en-US')} ` +
      `members makes it checkpoint while it loads; ${size(ADVISED_MAX_WAL_BYTES)} or more avoids that ` +
      '(README, "PostgreSQL for large audiences").',
  ];
}

function size(bytes: number): string {
  return bytes >= 1024 ** 3 ? `${+(bytes / 1024 ** 3).toFixed(1)} GB` : `${Math.round(bytes / 1024 ** 2)} MB`;
}
