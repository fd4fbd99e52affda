import { RequestGate } from '../../../shared/tracking/request-gate';

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

  it('stops waiting when the run is aborted', async () => {
    const gate = new RequestGate(0.001);
    await gate.acquire();
    const controller = new AbortController();
    const waiting = gate.acquire(controller.signal);
    controller.abort(new Error('shutting down'));
    await expect(waiting).rejects.toThrow('shutting down');
  });
});
