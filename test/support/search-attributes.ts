import type { Connection } from '@temporalio/client';
import { temporal } from '@temporalio/proto';
import { SEARCH_ATTRIBUTES } from '../../src/workflows/search-attributes';

/** The time-skipping test server starts without our search attributes; the dev server gets them as flags. */
export async function registerSearchAttributes(connection: Connection, namespace = 'default'): Promise<void> {
  const IndexedValueType = temporal.api.enums.v1.IndexedValueType;
  const searchAttributes = Object.fromEntries(
    SEARCH_ATTRIBUTES.map((key) => [key.name, IndexedValueType[`INDEXED_VALUE_TYPE_${key.type}` as keyof typeof IndexedValueType]]),
  );
  await connection.operatorService.addSearchAttributes({ namespace, searchAttributes });
}
