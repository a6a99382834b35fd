import { defineSearchAttributeKey, SearchAttributeType } from '@temporalio/common';

/** Registered on the server (see scripts/temporal-dev-server.sh) so the Web UI can filter and show them. */
export const AudienceKey = defineSearchAttributeKey('AudienceKey', SearchAttributeType.KEYWORD);
export const AdAccountId = defineSearchAttributeKey('AdAccountId', SearchAttributeType.KEYWORD);
export const SyncState = defineSearchAttributeKey('SyncState', SearchAttributeType.KEYWORD);
export const MemberCount = defineSearchAttributeKey('MemberCount', SearchAttributeType.INT);
export const LastSyncAt = defineSearchAttributeKey('LastSyncAt', SearchAttributeType.DATETIME);
/** The audience's lookalikes at Meta, each as `US:1:<id>`; set only on audiences that keep lookalikes. */
export const Lookalikes = defineSearchAttributeKey('Lookalikes', SearchAttributeType.KEYWORD_LIST);

export const SEARCH_ATTRIBUTES = [AudienceKey, AdAccountId, SyncState, MemberCount, LastSyncAt, Lookalikes];
