import type { Timer } from '@azure/functions';
import { FunctionRegistry } from '../../../dev/host';
import { eventually, startTestLocalHost, type TestLocalHost } from '../../helpers/local-host';

interface Tick {
  timer: Timer;
  at: number;
}

describe('local host: timer trigger', () => {
  const ticks: Tick[] = [];
  const slowRuns: { start: number; end: number }[] = [];
  let running = 0;
  let maxConcurrent = 0;
  const startupRuns: Tick[] = [];
  let host: TestLocalHost;

  beforeAll(async () => {
    const functions = new FunctionRegistry();
    functions.timer('everySecond', {
      schedule: '%TEST_TICK_SCHEDULE%',
      handler: (timer, context) => {
        ticks.push({ timer, at: Date.now() });
        context.log('tick');
      },
    });
    functions.timer('slow', {
      schedule: '* * * * * *',
      handler: async () => {
        running++;
        maxConcurrent = Math.max(maxConcurrent, running);
        const start = Date.now();
        await new Promise((resolve) => setTimeout(resolve, 1500));
        slowRuns.push({ start, end: Date.now() });
        running--;
      },
    });
    functions.timer('onStartup', {
      schedule: '0 0 0 1 1 *', // once a year: only runOnStartup and the admin endpoint run it here
      runOnStartup: true,
      handler: (timer) => {
        startupRuns.push({ timer, at: Date.now() });
      },
    });
    host = await startTestLocalHost({ functions, settings: { TEST_TICK_SCHEDULE: '* * * * * *' } });
  });
  afterAll(async () => host.stop());

  it('fires a %SETTING% schedule when due, on the second, with the timer argument shaped like the host’s', async () => {
    await eventually(() => (ticks.length >= 2 ? true : undefined), 5000);
    const [first, second] = ticks;
    // Each tick fires at its due time (a whole second), not before, and not much after (the CPU is shared).
    for (const tick of [first, second]) {
      const due = Date.parse(tick.timer.scheduleStatus.next);
      expect(due % 1000).toBe(0);
      expect(tick.at - due).toBeGreaterThanOrEqual(-5);
      expect(tick.at - due).toBeLessThan(800);
    }
    expect(second.timer).toEqual({
      isPastDue: false,
      schedule: { adjustForDST: true },
      // As the host hands it over: the status before this run (previous run, this occurrence).
      scheduleStatus: {
        last: first.timer.scheduleStatus.next,
        next: expect.stringMatching(/:\d\d\.000Z$/),
        lastUpdated: first.timer.scheduleStatus.next,
      },
    });
    expect(Date.parse(second.timer.scheduleStatus.next) - Date.parse(second.timer.scheduleStatus.last)).toBe(1000);
    expect(host.logs.some((l) => /\[Information\] everySecond \([0-9a-f-]{36}\): tick/.test(l))).toBe(true);
  });

  it('runs through POST /admin/functions/{name} at once, ignoring the input', async () => {
    const before = startupRuns.length;
    const response = await fetch(`${host.url}/admin/functions/onStartup`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ input: 'ignored' }),
    });
    expect(response.status).toBe(202);
    const run = await eventually(() => startupRuns[before], 3000);
    expect(run.timer.isPastDue).toBe(false);
    expect(before).toBe(1); // the runOnStartup run came first
  });

  it('marks a tick that fires more than a second late as past due', async () => {
    const blockedUntil = Date.now() + 2200;
    while (Date.now() < blockedUntil) {
      // Busy-wait on purpose: a stalled event loop is how a timer fires late in Node.
    }
    const late = await eventually(() => ticks.find((t) => t.at >= blockedUntil), 3000);
    expect(late.timer.isPastDue).toBe(true);
  });

  it('never overlaps runs of one timer', async () => {
    await eventually(() => (slowRuns.length >= 2 ? true : undefined), 6000);
    expect(maxConcurrent).toBe(1);
    expect(slowRuns[1].start).toBeGreaterThanOrEqual(slowRuns[0].end);
  });

  it('answers 404 for an unknown function on the admin endpoint', async () => {
    const response = await fetch(`${host.url}/admin/functions/doesNotExist`, { method: 'POST', body: '{}' });
    expect(response.status).toBe(404);
  });
});
