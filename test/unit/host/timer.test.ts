import type { Timer } from '@azure/functions';
import type { TimerRegistration } from '../../../dev/host';
import { TimerScheduler } from '../../../dev/host/timer-scheduler';
import { virtualClock, type VirtualClock } from '../../helpers/local-host';

/** Lets every promise reaction run: after it, whatever a timer was going to do at this instant is done. */
const settle = (): Promise<void> => new Promise((resolve) => setImmediate(resolve));
const NEVER = '0001-01-01T00:00:00.000Z';
const at = (time: string): string => `2026-01-01T${time}.000Z`;

interface Run {
  timer: Timer;
  /** The clock when the handler started. */
  startedAt: string;
  finish(): void;
  error?: Error;
}

/** A timer function whose runs the test sees start, and ends itself when it chooses to (`hold`). */
function timerUnderTest(
  schedule: string,
  options: { runOnStartup?: boolean; useMonitor?: boolean; start?: string; hold?: boolean; fail?: boolean } = {},
) {
  const clock: VirtualClock = virtualClock(at(options.start ?? '00:00:30'));
  const runs: Run[] = [];
  const waiting: ((run: Run) => void)[] = [];
  let running = 0;
  let maxRunning = 0;
  const logs: string[] = [];
  const registration: TimerRegistration = {
    kind: 'timer',
    name: 'tick',
    options: {
      schedule,
      runOnStartup: options.runOnStartup,
      useMonitor: options.useMonitor,
      handler: async (timer) => {
        running++;
        maxRunning = Math.max(maxRunning, running);
        let finish = (): void => undefined;
        const finished = new Promise<void>((resolve) => (finish = resolve));
        const run: Run = { timer, startedAt: new Date(clock.now()).toISOString(), finish };
        runs.push(run);
        waiting.shift()?.(run);
        if (options.hold) await finished;
        running--;
        if (options.fail) throw new Error('the run failed');
      },
    },
  };
  const nextRun = (): Promise<Run> => new Promise((resolve) => waiting.push(resolve));
  const scheduler = new TimerScheduler(registration, schedule, clock, (line) => logs.push(line));
  return {
    clock,
    scheduler,
    runs,
    logs,
    maxRunning: () => maxRunning,
    /** Resolves when the next run starts (register before moving the clock). */
    nextRun,
    /** Moves the clock to `time` and resolves when the run it brings starts. */
    runAt(time: string): Promise<Run> {
      const run = nextRun();
      clock.advanceTo(at(time));
      return run;
    },
  };
}

describe('timer trigger (the local host’s scheduler on a virtual clock)', () => {
  it('fires at each occurrence and not before, handing over the schedule status as the host does', async () => {
    const t = timerUnderTest('0 * * * * *');
    t.scheduler.start();
    t.clock.advanceTo('2026-01-01T00:00:59.999Z');
    await settle();
    expect(t.runs).toHaveLength(0);
    expect((await t.runAt('00:01:00')).timer).toEqual({
      isPastDue: false,
      schedule: { adjustForDST: true },
      scheduleStatus: { last: NEVER, next: at('00:01:00'), lastUpdated: at('00:00:30') },
    });
    expect((await t.runAt('00:02:00')).timer.scheduleStatus).toEqual({
      last: at('00:01:00'),
      next: at('00:02:00'),
      lastUpdated: at('00:01:00'),
    });
    expect(t.logs.some((l) => /Executed 'Functions\.tick' \(Succeeded, Id=[0-9a-f-]{36}/.test(l))).toBe(true);
    await t.scheduler.stop();
  });

  it('never overlaps its runs: after a run longer than the interval the next starts at once, the rest are skipped', async () => {
    const t = timerUnderTest('0 * * * * *', { hold: true });
    t.scheduler.start();
    const run1 = await t.runAt('00:01:00');
    t.clock.advanceTo(at('00:03:30')); // the 00:02 and 00:03 occurrences pass while it runs
    await settle();
    expect(t.runs).toHaveLength(1);
    const second = t.nextRun();
    run1.finish();
    const run2 = await second;
    expect(run2.startedAt).toBe(at('00:03:30'));
    expect(run2.timer.scheduleStatus).toMatchObject({ last: at('00:01:00'), next: at('00:02:00') });
    run2.finish();
    await settle();
    expect(t.runs).toHaveLength(2); // 00:03 is not run as well
    const run3 = await t.runAt('00:04:00');
    expect(run3.timer.scheduleStatus).toMatchObject({ last: at('00:03:30'), next: at('00:04:00') });
    run3.finish();
    expect(t.maxRunning()).toBe(1);
    await t.scheduler.stop();
  });

  it('runs once at startup when runOnStartup, then on the schedule', async () => {
    const t = timerUnderTest('0 * * * * *', { runOnStartup: true });
    const startup = t.nextRun();
    t.scheduler.start();
    const run1 = await startup;
    expect(run1.startedAt).toBe(at('00:00:30'));
    expect(run1.timer).toMatchObject({ isPastDue: false, scheduleStatus: { last: NEVER, next: at('00:01:00') } });
    expect(t.logs.some((l) => l.includes("Reason='Timer fired at startup (runOnStartup).'"))).toBe(true);
    expect((await t.runAt('00:01:00')).timer.scheduleStatus).toMatchObject({
      last: at('00:00:30'),
      next: at('00:01:00'),
    });
    await t.scheduler.stop();
  });

  it('keeps running after a failed run: the next occurrence is the retry', async () => {
    const t = timerUnderTest('0 * * * * *', { fail: true });
    t.scheduler.start();
    await t.runAt('00:01:00');
    await t.runAt('00:02:00');
    expect(t.logs.filter((l) => l.includes("Executed 'Functions.tick' (Failed"))).toHaveLength(1);
    await settle();
    expect(t.logs.filter((l) => l.includes("Executed 'Functions.tick' (Failed"))).toHaveLength(2);
    await t.scheduler.stop();
  });

  it('runs through the admin API at once, beside a scheduled run, without moving the schedule', async () => {
    const t = timerUnderTest('0 * * * * *', { hold: true });
    t.scheduler.start();
    const scheduled = await t.runAt('00:01:00');
    const adminStarted = t.nextRun();
    const admin = t.scheduler.run();
    const adminRun = await adminStarted;
    expect(adminRun.timer).toEqual(scheduled.timer); // the status as it stands; not past due
    expect(t.maxRunning()).toBe(2);
    adminRun.finish();
    await admin;
    scheduled.finish();
    expect((await t.runAt('00:02:00')).timer.scheduleStatus).toMatchObject({
      last: at('00:01:00'),
      next: at('00:02:00'),
    });
    (t.runs.at(-1) as Run).finish();
    await t.scheduler.stop();
  });

  it('hands over no schedule status without the monitor: off on request, or for a schedule firing within a minute', async () => {
    const firstTimer = async (schedule: string, useMonitor?: boolean) => {
      const t = timerUnderTest(schedule, { useMonitor, runOnStartup: true });
      const run = t.nextRun();
      t.scheduler.start();
      const { timer } = await run;
      await t.scheduler.stop();
      return timer;
    };
    expect((await firstTimer('0 * * * * *', false)).scheduleStatus).toBeNull();
    expect((await firstTimer('*/10 * * * * *')).scheduleStatus).toBeNull();
    expect((await firstTimer('*/10 * * * * *', true)).scheduleStatus).toBeNull();
    expect((await firstTimer('*/10 * 9 * * *')).scheduleStatus).not.toBeNull();
    expect((await firstTimer('0 */5 * * * *')).scheduleStatus).not.toBeNull();
  });

  it('stops: waits for the run in progress, then fires no more', async () => {
    const t = timerUnderTest('0 * * * * *', { hold: true });
    t.scheduler.start();
    const run = await t.runAt('00:01:00');
    let stopped = false;
    const stopping = t.scheduler.stop().then(() => (stopped = true));
    await settle();
    expect(stopped).toBe(false);
    run.finish();
    await stopping;
    t.clock.advanceTo(at('01:00:00'));
    await settle();
    expect(t.runs).toHaveLength(1);
  });
});
