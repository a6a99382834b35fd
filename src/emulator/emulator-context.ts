import type { Pool } from 'pg';
import { AccessRegistry } from './access-registry';
import { AccountThrottle, type ThrottleSettings } from './account-throttle';
import { AudienceStore, type AudienceRecord } from './audience-store';
import type { AudienceStatusOverride } from './audience-fields';
import { CallLog } from './call-log';
import { FaultBook } from './fault-rules';
import { wipeStore } from './store-schema';

/** Settings an admin call may change at run time; a reset returns them to the start-up values. */
export interface EmulatorSettings {
  latencyMs: number;
  throttle: ThrottleSettings | undefined;
  minAudienceRows: number;
  replaceWindowMs: number;
}

/** Everything the Graph and admin routes share. */
export class EmulatorContext {
  readonly store: AudienceStore;
  readonly access: AccessRegistry;
  readonly faults: FaultBook;
  readonly throttle = new AccountThrottle();
  readonly calls = new CallLog();
  /** Sizes and statuses tests set for an audience, by id; kept in memory, as tests set them after start-up. */
  readonly statusOverrides = new Map<string, AudienceStatusOverride>();
  settings: EmulatorSettings;
  private readonly shutdownController = new AbortController();

  constructor(
    private readonly pool: Pool,
    private readonly schema: string,
    private readonly startupSettings: EmulatorSettings,
    requiredToken: string | undefined,
    random: () => number,
    rowKeysOnly = false,
  ) {
    this.store = new AudienceStore(pool, schema, rowKeysOnly);
    this.access = new AccessRegistry(pool, schema, requiredToken);
    this.faults = new FaultBook(random);
    this.settings = { ...startupSettings };
  }

  /**
   * The audience as it stands now: a replace session that outran its window has ended (the audience holds what it
   * received), as Meta's does whether or not anyone calls.
   */
  async audience(id: string): Promise<AudienceRecord | undefined> {
    const audience = await this.store.findAudience(id);
    if (!audience?.replace || Date.now() - audience.replace.startedAt.getTime() < this.settings.replaceWindowMs) return audience;
    await this.store.settleExpiredReplace(audience.id, this.settings.replaceWindowMs);
    return this.store.findAudience(id);
  }

  /** Aborted when the emulator closes, so injected delays do not hold the server open. */
  get shutdownSignal(): AbortSignal {
    return this.shutdownController.signal;
  }

  shutDown(): void {
    this.shutdownController.abort();
  }

  async reset(): Promise<void> {
    await wipeStore(this.pool, this.schema);
    this.access.forgetAll();
    this.faults.clear();
    this.throttle.clear();
    this.calls.clear();
    this.statusOverrides.clear();
    this.settings = { ...this.startupSettings };
  }
}
