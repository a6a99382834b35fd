import type { ClientBase } from 'pg';
import { SCHEMA } from './pool';

/**
 * A cycle's working tables. They are per cycle (dropped, not deleted from, when the cycle ends) and UNLOGGED:
 * all of them hold only what can be computed again from the source and the audience's durable state.
 */
export interface CycleTables {
  /** Pass 1: the fingerprint of every source member, (member_id, fingerprint). */
  fingerprints: string;
  /** Members whose rows must be built again (in the source) or dropped (gone from it). */
  changed: string;
  /** Pass 2, as the encoder writes it: a member tuple (member_id, fingerprint, keys_mask, row_hashes) per member
   *  read, and a row tuple (row_hash, row_data) per row it produced. */
  staging: string;
}

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;

export function cycleTables(cycleId: string): CycleTables {
  // The id becomes part of identifiers, so it must be exactly a UUID and nothing anyone could shape.
  if (!UUID.test(cycleId)) throw new Error(`not a cycle id: ${cycleId}`);
  const stem = `${SCHEMA}.cycle_${cycleId.replace(/-/g, '')}`;
  return {
    fingerprints: `${stem}_fingerprints`,
    changed: `${stem}_changed`,
    staging: `${stem}_staging`,
  };
}

export async function createCycleTables(client: ClientBase, tables: CycleTables): Promise<void> {
  await dropCycleTables(client, tables);
  // Member ids in the audience's members' collation (see migrations): staging is sorted and de-duplicated by them
  // in the order of that table's primary key, comparing bytes.
  await client.query(`
    CREATE UNLOGGED TABLE ${tables.fingerprints} (member_id text COLLATE "C" NOT NULL, fingerprint bigint NOT NULL);
    CREATE UNLOGGED TABLE ${tables.changed} (member_id text COLLATE "C" NOT NULL, in_source boolean NOT NULL);
    CREATE UNLOGGED TABLE ${tables.staging} (
      member_id text COLLATE "C", fingerprint bigint, keys_mask integer, row_hashes bytea[], row_hash bytea, row_data bytea);
  `);
}

export async function dropCycleTables(client: ClientBase, tables: CycleTables): Promise<void> {
  await client.query(
    `DROP TABLE IF EXISTS ${tables.fingerprints}, ${tables.changed}, ${tables.staging}`,
  );
}

/**
 * Each COPY into one of the cycle's tables runs in a transaction that empties the table first, which lets it write
 * its rows frozen: the statements that read them next then find every page all-visible, instead of setting hint
 * bits on each and writing the whole table out once more (a staging table of ten million members is some 6 GB).
 * Nothing else reads a cycle's tables, so no snapshot can see the rows too early. These open that transaction and
 * return the COPY to run in it; the caller commits once the COPY has finished.
 */
async function beginFrozenCopy(client: ClientBase, table: string, columns: string, options: string): Promise<string> {
  await client.query(`BEGIN; TRUNCATE ${table}`);
  return `COPY ${table} (${columns}) FROM STDIN (${options})`;
}

export function beginCopyIntoFingerprints(client: ClientBase, tables: CycleTables): Promise<string> {
  return beginFrozenCopy(client, tables.fingerprints, 'member_id, fingerprint', 'FREEZE');
}

/** Binary COPY (see binary-copy): the encoder writes tuples of exactly these columns. */
export function beginCopyIntoStaging(client: ClientBase, tables: CycleTables): Promise<string> {
  return beginFrozenCopy(
    client,
    tables.staging,
    'member_id, fingerprint, keys_mask, row_hashes, row_hash, row_data',
    'FORMAT binary, FREEZE',
  );
}
