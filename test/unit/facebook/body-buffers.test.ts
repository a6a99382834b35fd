import { BodyBuffers } from '../../../src/facebook/body-buffers';

const MB = 1 << 20;

/** The memory a loan was given, seen from outside it. */
async function memoryOf(buffers: BodyBuffers, length: number, during?: Promise<unknown>): Promise<ArrayBufferLike> {
  return buffers.lend(async (allocate) => {
    const body = allocate(length);
    expect(body.length).toBe(length);
    await during;
    return body.buffer;
  });
}

describe('BodyBuffers', () => {
  afterEach(() => jest.useRealTimers());

  it('lends the same memory again once a request has ended, for a body of similar size', async () => {
    const buffers = new BodyBuffers();
    const first = await memoryOf(buffers, 5 * MB);
    expect(await memoryOf(buffers, 5 * MB - 1000)).toBe(first);
  });

  it('never lends one buffer to two requests in flight', async () => {
    const buffers = new BodyBuffers();
    let finish!: () => void;
    const inFlight = new Promise<void>((resolve) => (finish = resolve));
    const first = memoryOf(buffers, MB, inFlight);
    const second = await memoryOf(buffers, MB);
    finish();
    expect(await first).not.toBe(second);
  });

  it('takes the buffer back after a failed request too', async () => {
    const buffers = new BodyBuffers();
    let memory: ArrayBufferLike | undefined;
    await expect(
      buffers.lend(async (allocate) => {
        memory = allocate(MB).buffer;
        throw new Error('timeout');
      }),
    ).rejects.toThrow('timeout');
    expect(await memoryOf(buffers, MB)).toBe(memory);
  });

  it('does not lend a buffer that is too small', async () => {
    const buffers = new BodyBuffers();
    const small = await memoryOf(buffers, MB);
    const large = await memoryOf(buffers, 3 * MB);
    expect(large).not.toBe(small);
    expect(large.byteLength).toBeGreaterThanOrEqual(3 * MB);
  });

  it('lets its buffers go when no request came for a while', async () => {
    jest.useFakeTimers();
    const buffers = new BodyBuffers();
    const first = await memoryOf(buffers, MB);
    jest.advanceTimersByTime(60_000);
    expect(await memoryOf(buffers, MB)).not.toBe(first);
  });

  it('allocates one body per loan', async () => {
    const buffers = new BodyBuffers();
    await expect(
      buffers.lend(async (allocate) => {
        allocate(10);
        allocate(10);
      }),
    ).rejects.toThrow(/once/);
  });
});
