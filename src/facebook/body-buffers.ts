/** Buffers kept for reuse at most; an upload has a handful of requests in flight. */
const MAX_KEPT = 8;
/** Kept buffers are let go after this long without a request, so an idle worker does not hold them. */
const KEEP_IDLE_MS = 10_000;
/** Sizes are rounded up to this, so that batches of nearly equal size fit each other's buffers. */
const SIZE_STEP = 1 << 20;

/**
 * Reusable memory for what an upload's /users requests send: their bodies, and the batch rows read for them. An
 * upload sends bodies of megabytes back to back, a few at a time; a fresh buffer for each lives until V8's next full
 * collection, so the worker would carry many bodies' worth of garbage at its peak. A buffer is lent for one request
 * and is not written again until that request has ended.
 */
export class BodyBuffers {
  private readonly kept: Buffer[] = [];
  private idleTimer: NodeJS.Timeout | undefined;

  /** Runs `use` with an allocator for one buffer, which is reused once `use` has settled. */
  async lend<T>(use: (allocate: (length: number) => Buffer) => Promise<T>): Promise<T> {
    let lent: Buffer | undefined;
    try {
      return await use((length) => {
        if (lent) throw new Error('A request body is allocated once');
        lent = this.take(length);
        return lent.subarray(0, length);
      });
    } finally {
      if (lent) this.giveBack(lent);
    }
  }

  private take(length: number): Buffer {
    // The smallest kept buffer that fits, so large ones stay for large bodies.
    let best = -1;
    this.kept.forEach((buffer, index) => {
      if (buffer.length >= length && (best < 0 || buffer.length < this.kept[best].length)) best = index;
    });
    if (best >= 0) return this.kept.splice(best, 1)[0];
    return Buffer.allocUnsafeSlow(Math.ceil(length / SIZE_STEP) * SIZE_STEP);
  }

  private giveBack(buffer: Buffer): void {
    this.kept.push(buffer);
    if (this.kept.length > MAX_KEPT) {
      this.kept.sort((a, b) => b.length - a.length);
      this.kept.length = MAX_KEPT;
    }
    clearTimeout(this.idleTimer);
    this.idleTimer = setTimeout(() => (this.kept.length = 0), KEEP_IDLE_MS);
    this.idleTimer.unref();
  }
}
