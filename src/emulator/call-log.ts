export interface CallLogEntry {
  seq: number;
  /** Milliseconds since the epoch when the call arrived. */
  at: number;
  method: string;
  /** Without the query string, so never with a token. */
  path: string;
  /** act_<digits>, when the call concerned an ad account or one of its audiences. */
  adAccountId: string | null;
  audienceId: string | null;
  /** HTTP status answered; null when the connection was dropped instead. */
  status: number | null;
  code: number | null;
  subcode: number | null;
  /** Rows in a /users payload; 0 for other calls. */
  rows: number;
  /** The injected fault, e.g. "error", "throttle", "drop_connection:after", "slow". */
  fault?: string;
}

export const DEFAULT_CALL_LOG_CAPACITY = 100_000;

/** The most recent Graph calls, in memory; the oldest are forgotten beyond the capacity. */
export class CallLog {
  private entries: CallLogEntry[] = [];
  private lastSeq = 0;

  constructor(private readonly capacity = DEFAULT_CALL_LOG_CAPACITY) {}

  record(entry: Omit<CallLogEntry, 'seq'>): CallLogEntry {
    this.lastSeq += 1;
    const recorded = { seq: this.lastSeq, ...entry };
    this.entries.push(recorded);
    // Trimming in chunks keeps the amortised cost of a call constant.
    if (this.entries.length >= this.capacity * 1.1) this.entries = this.entries.slice(-this.capacity);
    return recorded;
  }

  /** Entries with a sequence number above `seq`, oldest first. */
  since(seq: number): CallLogEntry[] {
    const all = this.entries.length > this.capacity ? this.entries.slice(-this.capacity) : this.entries;
    const oldestSeq = all[0]?.seq ?? 0;
    // Sequence numbers within the log are consecutive, so the position follows from the number.
    return all.slice(Math.max(0, seq - oldestSeq + 1));
  }

  /** Sequence numbers keep growing across a clear, so a reader polling with `since` never sees old numbers again. */
  clear(): void {
    this.entries = [];
  }
}
