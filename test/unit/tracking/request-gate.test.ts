import { callThroughGate, RequestGate } from '../../../shared/tracking/request-gate';

/** A virtual clock: sleeping advances it, so the gate's timing is asserted exactly and instantly. */
function virtualTime() {
  let now = 0;
  const sleeps: number[] = [];
  return {
    clock: () => now,
    sleep: async (ms: number) => {
      sleeps.push(ms);
      now += ms;
      await Promise.resolve();
    },
    advance: (ms: number) => (now += ms),
    sleeps,
  };
}

describe('RequestGate', () => {
  it('spaces requests evenly at the configured rate', async () => {
    const time = virtualTime();
    const gate = new RequestGate(4, time.clock, time.sleep);
    const starts: number[] = [];
    for (let i = 0; i < 5; i++) {
      await gate.acquire();
      starts.push(time.clock());
    }
    expect(starts).toEqual([0, 250, 500, 750, 1000]);
  });

  it('holds every caller during a shared pause, then resumes at the rate', async () => {
    const time = virtualTime();
    const gate = new RequestGate(10, time.clock, time.sleep);
    await gate.acquire();
    gate.pauseFor(5_000);
    const starts: number[] = [];
    await Promise.all(
      [0, 1, 2].map(async () => {
        await gate.acquire();
        starts.push(time.clock());
      }),
    );
    expect(Math.min(...starts)).toBeGreaterThanOrEqual(5_000);
  });

  it('a pause set while a caller waits for its slot makes it wait for the pause too', async () => {
    const time = virtualTime();
    let paused = false;
    const gate: RequestGate = new RequestGate(1, time.clock, async (ms) => {
      await time.sleep(ms);
      if (!paused) {
        paused = true;
        gate.pauseFor(10_000);
      }
    });
    await gate.acquire(); // t=0
    await gate.acquire(); // reserved t=1000; a 429 elsewhere pauses until 11000 while it sleeps
    expect(time.clock()).toBeGreaterThanOrEqual(11_000);
  });

  it('returns the time each caller was let through', async () => {
    const time = virtualTime();
    const gate = new RequestGate(2, time.clock, time.sleep);
    expect(await gate.acquire()).toBe(0);
    expect(await gate.acquire()).toBe(500);
  });

  it('a 429 pauses everyone for Retry-After and halves the rate; the climb back is linear from the end of the pause', async () => {
    const time = virtualTime();
    const gate = new RequestGate(20, time.clock, time.sleep, { recoverySeconds: 20 });
    const sentAt = await gate.acquire();
    time.advance(100); // the 429 arrives with the response, 100 ms later
    gate.throttled(1_000, sentAt);
    expect(gate.pausedUntil).toBe(1_100);
    expect(gate.rateCuts).toBe(1);
    expect(gate.ratePerSecond()).toBe(10);
    expect(gate.ratePerSecond(1_100)).toBe(10);
    expect(gate.ratePerSecond(3_100)).toBeCloseTo(12); // +1/s per second: 20/s over 20 s
    expect(gate.ratePerSecond(60_000)).toBe(20); // never above the configured rate
    // The next slots after the pause are spaced at the cut rate (10/s = 100 ms), not the configured 50 ms.
    const first = await gate.acquire();
    const second = await gate.acquire();
    expect(first).toBe(1_100);
    expect(second - first).toBeCloseTo(100, 0);
  });

  it('429s of calls let through before the cut belong to the same episode: one cut, the pause extended', async () => {
    const time = virtualTime();
    const gate = new RequestGate(20, time.clock, time.sleep);
    const inFlight = [await gate.acquire(), await gate.acquire(), await gate.acquire()]; // 0, 50, 100
    time.advance(50);
    for (const sentAt of inFlight) {
      time.advance(10);
      gate.throttled(1_000, sentAt);
    }
    expect(gate.rateCuts).toBe(1);
    expect(gate.ratePerSecond()).toBe(10);
    expect(gate.pausedUntil).toBe(time.clock() + 1_000);
    // A call let through after the pause that is throttled again is a new episode: still over the limit.
    const after = await gate.acquire();
    time.advance(100);
    gate.throttled(1_000, after);
    expect(gate.rateCuts).toBe(2);
    // Half of the rate in force then: 10/s plus the little it had climbed since the pause ended.
    expect(gate.ratePerSecond()).toBeGreaterThanOrEqual(5);
    expect(gate.ratePerSecond()).toBeLessThan(5.2);
  });

  it('never cuts below the floor (nor above the configured rate when that is lower)', async () => {
    const time = virtualTime();
    const gate = new RequestGate(8, time.clock, time.sleep, { minRatePerSecond: 1 });
    for (let i = 0; i < 10; i++) gate.throttled(0, time.clock());
    expect(gate.ratePerSecond()).toBe(1);
    const slow = new RequestGate(0.5, time.clock, time.sleep, { minRatePerSecond: 1 });
    slow.throttled(0, time.clock());
    expect(slow.ratePerSecond()).toBe(0.5);
  });

  it('rejects options that cannot pace anything', () => {
    expect(() => new RequestGate(0)).toThrow(RangeError);
    expect(() => new RequestGate(10, undefined, undefined, { decreaseFactor: 0 })).toThrow(RangeError);
    expect(() => new RequestGate(10, undefined, undefined, { recoverySeconds: 0 })).toThrow(RangeError);
  });

  it('stops waiting when the run is aborted', async () => {
    const gate = new RequestGate(0.001);
    await gate.acquire();
    const controller = new AbortController();
    const waiting = gate.acquire(controller.signal);
    controller.abort(new Error('shutting down'));
    await expect(waiting).rejects.toThrow('shutting down');
  });
});

describe('callThroughGate: one call through the gate its callers share', () => {
  class Throttled extends Error {
    constructor(readonly retryAfterMs: number) {
      super('429');
    }
  }
  const pauseOf = (error: unknown) => (error instanceof Throttled ? error.retryAfterMs : undefined);

  it('a 429 pauses every caller of the gate for its Retry-After, then the call is tried again', async () => {
    const time = virtualTime();
    const gate = new RequestGate(10, time.clock, time.sleep);
    const sentAt: number[] = [];
    let answers = [new Throttled(2_000), 'ok'];
    const outcome = await callThroughGate(
      gate,
      () => {
        sentAt.push(time.clock());
        const answer = answers[0];
        answers = answers.slice(1);
        return answer instanceof Error ? Promise.reject(answer) : Promise.resolve(answer);
      },
      { maxThrottleRetries: 3, throttlePauseMs: pauseOf },
    );
    expect(outcome).toEqual({ ok: true, value: 'ok' });
    expect(sentAt).toEqual([0, 2_000]);
    // The pause and the cut are the gate's: another caller waits them out too.
    expect(gate.pausedUntil).toBe(2_000);
    expect(gate.rateCuts).toBe(1);
    expect(await gate.acquire()).toBeGreaterThanOrEqual(2_000 + 100);
  });

  it('returns any other failure at once, and the last 429 after the retries or when the caller stops', async () => {
    const time = virtualTime();
    const gate = new RequestGate(10, time.clock, time.sleep);
    const failure = new Error('HTTP 503');
    let attempts = 0;
    const other = await callThroughGate(
      gate,
      () => {
        attempts++;
        return Promise.reject(failure);
      },
      { maxThrottleRetries: 3, throttlePauseMs: pauseOf },
    );
    expect(other).toEqual({ ok: false, error: failure });
    expect(attempts).toBe(1);
    let throttled = 0;
    const always429 = () => Promise.reject(new Throttled(100));
    const limited = await callThroughGate(gate, always429, {
      maxThrottleRetries: 2,
      throttlePauseMs: pauseOf,
      onThrottled: () => throttled++,
    });
    expect(limited.ok).toBe(false);
    expect(throttled).toBe(3);
    let stopAfter = 1;
    const stopped = await callThroughGate(gate, always429, {
      maxThrottleRetries: Number.POSITIVE_INFINITY,
      throttlePauseMs: pauseOf,
      stopped: () => --stopAfter < 0,
    });
    expect(stopped.ok).toBe(false);
    expect(stopAfter).toBe(-1);
  });

  it('only the wait for a slot throws: when the signal of the caller aborts', async () => {
    const gate = new RequestGate(0.001);
    await gate.acquire();
    const controller = new AbortController();
    const waiting = callThroughGate(gate, () => Promise.resolve('never sent'), {
      signal: controller.signal,
      maxThrottleRetries: 0,
      throttlePauseMs: pauseOf,
    });
    controller.abort(new Error('run over'));
    await expect(waiting).rejects.toThrow('run over');
  });
});
