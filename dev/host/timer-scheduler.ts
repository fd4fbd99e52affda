import { setTimeout as sleep } from 'node:timers/promises';
import type { Timer } from '@azure/functions';
import { parseNcrontab, type NcrontabSchedule } from '../../shared/config';
import { invoke, type LogSink } from './invoke';
import type { TimerRegistration } from './registry';

/** What timers wait on; tests give a virtual one and move it themselves. */
export interface TimerClock {
  now: () => number;
  /** Resolves after `ms`, or early when `signal` aborts (never rejects). */
  sleep: (ms: number, signal: AbortSignal) => Promise<void>;
}

/** setTimeout's limit; a longer wait is slept in parts (the loop measures again after each). */
const MAX_TIMEOUT_MS = 2 ** 31 - 1;

export const systemClock: TimerClock = {
  now: () => Date.now(),
  sleep: (ms, signal) => sleep(Math.min(ms, MAX_TIMEOUT_MS), undefined, { signal }).catch(() => undefined),
};

type ScheduleStatus = Timer['scheduleStatus'];
/** What the host records as the last run before the first one (DateTime.MinValue). */
const NEVER = '0001-01-01T00:00:00.000Z';
const iso = (ms: number): string => new Date(ms).toISOString();

/**
 * The host turns the schedule monitor off for a schedule that fires more than once a minute (every field but the
 * seconds a wildcard, and two occurrences within the next minute), even when `useMonitor` asks for it.
 */
function monitored(registration: TimerRegistration, schedule: NcrontabSchedule, now: number): boolean {
  if (registration.options.useMonitor === false) return false;
  const subMinute =
    schedule.expression
      .trim()
      .split(/\s+/)
      .slice(1)
      .every((field) => field === '*') && schedule.next(schedule.next(now)) < now + 60_000;
  return !subMinute;
}

/**
 * Runs one timer function on its schedule, as the host's timer listener does: scheduled runs one at a time (the next
 * occurrence is counted from when a run fired, so after a run longer than the interval the next one starts at once,
 * and the occurrences it overlapped are skipped); `runOnStartup` first; a failed run is not retried, the next
 * occurrence is the retry. `isPastDue` is true only for a run the schedule monitor finds missed while the app was
 * stopped; the local host keeps the monitor's status in memory, so that never happens here (in Azure it lives in blob
 * storage). Runs through the admin API do not wait for the schedule, nor change its status.
 */
export class TimerScheduler {
  private readonly stopping = new AbortController();
  private loop: Promise<void> | undefined;
  private readonly schedule: NcrontabSchedule;
  private readonly useMonitor: boolean;
  /** The monitor's record, handed to a run as it was before the run (the host updates it after). */
  private status: ScheduleStatus;

  /** Throws, in the host's words, for a schedule it cannot read (the function is then in error). */
  constructor(
    private readonly registration: TimerRegistration,
    expression: string,
    private readonly clock: TimerClock,
    private readonly log: LogSink,
  ) {
    try {
      this.schedule = parseNcrontab(expression);
    } catch (error) {
      const reason = (error as Error).message;
      throw new Error(
        `The schedule expression '${expression}' was not recognized as a valid cron expression (${reason})`,
        {
          cause: error,
        },
      );
    }
    const now = clock.now();
    const { schedule } = this;
    this.status = { last: NEVER, next: iso(schedule.next(now)), lastUpdated: iso(now) };
    this.useMonitor = monitored(registration, schedule, now);
  }

  get binding(): { type: string; schedule: string } {
    return { type: 'timerTrigger', schedule: this.schedule.expression };
  }

  start(): void {
    this.loop ??= this.keepTime();
  }

  /** Stops scheduling and waits for a scheduled run in progress. */
  async stop(): Promise<void> {
    this.stopping.abort();
    await this.loop;
  }

  /** One run now, as `POST /admin/functions/{name}` asks; resolves when it ends, rejects with the handler's error. */
  run(): Promise<void> {
    return this.invoke('This function was programmatically called via the host APIs.');
  }

  private async keepTime(): Promise<void> {
    if (this.registration.options.runOnStartup) await this.fire(true);
    while (!this.stopping.signal.aborted) {
      const wait = Date.parse(this.status.next) - this.clock.now();
      if (wait > 0) await this.clock.sleep(wait, this.stopping.signal);
      else await this.fire(false);
    }
  }

  private async fire(onStartup: boolean): Promise<void> {
    if (this.stopping.signal.aborted) return;
    const firedAt = this.clock.now();
    const reason = onStartup ? 'Timer fired at startup (runOnStartup).' : `Timer fired at ${iso(firedAt)}`;
    await this.invoke(reason).catch(() => undefined); // logged by invoke()
    // A scheduled run that fired a little early counts from its occurrence, so that it is not run twice.
    const last = onStartup ? firedAt : Math.max(firedAt, Date.parse(this.status.next));
    this.status = { last: iso(last), next: iso(this.schedule.next(last)), lastUpdated: iso(last) };
  }

  private invoke(reason: string): Promise<void> {
    const timer: Timer = {
      isPastDue: false,
      schedule: { adjustForDST: true },
      // Without the monitor the host hands over no status at all.
      scheduleStatus: this.useMonitor ? { ...this.status } : (null as unknown as ScheduleStatus),
    };
    const { registration, log } = this;
    return invoke({ functionName: registration.name, reason, triggerType: 'timerTrigger', log }, async (context) => {
      await registration.options.handler(timer, context);
    });
  }
}
