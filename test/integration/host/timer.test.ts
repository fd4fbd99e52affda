import type { Timer } from '@azure/functions';
import { FunctionRegistry } from '../../../dev/host';
import { startTestLocalHost, virtualClock, type TestLocalHost } from '../../helpers/local-host';

/** The host's timers on a virtual clock: the test moves time, the host fires; nothing waits on the wall clock. */
describe('local host: timer trigger', () => {
  const clock = virtualClock('2026-01-01T00:00:30.000Z');
  const ticks: Timer[] = [];
  const startupRuns: Timer[] = [];
  const waiting: ((timer: Timer) => void)[] = [];
  const nextTick = (): Promise<Timer> => new Promise((resolve) => waiting.push(resolve));
  const waitingForStartup: ((timer: Timer) => void)[] = [];
  const nextStartupRun = (): Promise<Timer> => new Promise((resolve) => waitingForStartup.push(resolve));
  let host: TestLocalHost;

  beforeAll(async () => {
    const functions = new FunctionRegistry();
    functions.timer('everyMinute', {
      schedule: '%TEST_TICK_SCHEDULE%',
      handler: (timer, context) => {
        ticks.push(timer);
        waiting.shift()?.(timer);
        context.log('tick');
      },
    });
    functions.timer('onStartup', {
      schedule: '0 0 0 1 1 *', // once a year: only runOnStartup and the admin endpoint run it here
      runOnStartup: true,
      handler: (timer) => {
        startupRuns.push(timer);
        waitingForStartup.shift()?.(timer);
      },
    });
    functions.timer('unresolved', { schedule: '%TEST_SCHEDULE_NOT_SET%', handler: () => undefined });
    functions.timer('fiveFields', { schedule: '*/5 * * * *', handler: () => undefined });
    delete process.env.TEST_SCHEDULE_NOT_SET;
    host = await startTestLocalHost({ functions, clock, settings: { TEST_TICK_SCHEDULE: '0 * * * * *' } });
  });
  afterAll(async () => host.stop());

  it('fires a %SETTING% schedule when due, with the timer argument shaped like the host’s', async () => {
    const first = nextTick();
    clock.advanceTo('2026-01-01T00:01:00.000Z');
    expect(await first).toEqual({
      isPastDue: false,
      schedule: { adjustForDST: true },
      scheduleStatus: {
        last: '0001-01-01T00:00:00.000Z',
        next: '2026-01-01T00:01:00.000Z',
        lastUpdated: '2026-01-01T00:00:30.000Z',
      },
    });
    const second = nextTick();
    clock.advanceTo('2026-01-01T00:02:00.000Z');
    expect((await second).scheduleStatus).toEqual({
      last: '2026-01-01T00:01:00.000Z',
      next: '2026-01-01T00:02:00.000Z',
      lastUpdated: '2026-01-01T00:01:00.000Z',
    });
    expect(await host.logged(/\[Information\] everyMinute \([0-9a-f-]{36}\): tick/)).toBeDefined();
  });

  it('puts a function whose schedule does not resolve in error, in the host’s words, and runs the others', async () => {
    expect(host.logs).toContainEqual(
      expect.stringContaining(
        "[Error] The 'unresolved' function is in error: '%TEST_SCHEDULE_NOT_SET%' does not resolve to a value.",
      ),
    );
    expect(host.logs).toContainEqual(
      expect.stringMatching(
        /\[Error\] The 'fiveFields' function is in error: The schedule expression '\*\/5 \* \* \* \*' was not recognized/,
      ),
    );
    const run = await fetch(`${host.url}/admin/functions/unresolved`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: '{}',
    });
    expect(run.status).toBe(404);
    await expect(host.runFunction('unresolved')).rejects.toThrow(/unknown or in error/);
  });

  it('runs on startup, and through POST /admin/functions/{name} at once, ignoring the input', async () => {
    expect(startupRuns).toHaveLength(1); // the runOnStartup run, before anything else
    expect(startupRuns[0].isPastDue).toBe(false);
    const adminRun = nextStartupRun();
    const response = await fetch(`${host.url}/admin/functions/onStartup`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ input: 'ignored' }),
    });
    expect(response.status).toBe(202);
    expect((await adminRun).isPastDue).toBe(false);
    await expect(host.runFunction('onStartup')).resolves.toBeUndefined();
    expect(startupRuns).toHaveLength(3);
  });

  it('answers 404 for an unknown function on the admin endpoint', async () => {
    const response = await fetch(`${host.url}/admin/functions/doesNotExist`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: '{}',
    });
    expect(response.status).toBe(404);
  });
});
