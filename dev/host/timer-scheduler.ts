import type { Timer } from '@azure/functions';
import { invoke, type LogSink } from './invoke';
import { parseSchedule, resolveSchedule, type Schedule } from './ncrontab';
import type { TimerRegistration } from './registry';

/** A tick firing later than this after its due time is past due (timers in Node drift by a few ms). */
const PAST_DUE_TOLERANCE_MS = 1000;
/** setTimeout's limit; longer waits are split. */
const MAX_TIMEOUT_MS = 2 ** 31 - 1;
/** What the host reports as "last" before the first run (DateTime.MinValue). */
const NEVER = '0001-01-01T00:00:00.000Z';

export interface TimerSchedulerOptions {
  registration: TimerRegistration;
  env: NodeJS.ProcessEnv;
  log: LogSink;
}

/**
 * Runs one timer function on its NCRONTAB schedule. Runs never overlap: scheduled ticks and admin runs are queued
 * one behind the other, and the next tick is computed after a run ends, so ticks missed during a long run are skipped
 * (as in the host).
 */
export class TimerScheduler {
  readonly schedule: Schedule;
  private timeout: NodeJS.Timeout | undefined;
  private stopped = false;
  private chain: Promise<void> = Promise.resolve();
  /**
   * What the host's schedule monitor holds, handed to a run as it was before the run (the host updates it after):
   * `last` = previous run, `next` = the occurrence now firing, `lastUpdated` = when it was last written.
   */
  private status: Timer['scheduleStatus'];

  constructor(private readonly options: TimerSchedulerOptions) {
    this.schedule = parseSchedule(resolveSchedule(options.registration.options.schedule, options.env));
    const now = new Date();
    this.status = { last: NEVER, next: this.schedule.next(now).toISOString(), lastUpdated: now.toISOString() };
  }

  start(): void {
    if (this.options.registration.options.runOnStartup) {
      this.enqueue(new Date(), false, 'Timer fired at startup (runOnStartup).').catch(() => undefined);
    }
    this.scheduleNext();
  }

  /** Runs now (admin endpoint); resolves when the run ends, rejects with the handler's error. */
  runNow(): Promise<void> {
    return this.enqueue(new Date(), false, 'This function was programmatically called via the host APIs.');
  }

  /** Stops scheduling and waits for a run in progress. */
  async stop(): Promise<void> {
    this.stopped = true;
    if (this.timeout) clearTimeout(this.timeout);
    await this.chain;
  }

  private scheduleNext(): void {
    if (this.stopped) return;
    const due = this.schedule.next(new Date());
    const arm = (): void => {
      const wait = due.getTime() - Date.now();
      if (wait > MAX_TIMEOUT_MS) {
        this.timeout = setTimeout(arm, MAX_TIMEOUT_MS);
        return;
      }
      this.timeout = setTimeout(
        () => {
          this.enqueue(due, true, `Timer fired at ${new Date().toISOString()}`)
            .catch(() => undefined) // logged by invoke(); a failed run is not retried, the next tick is the retry
            .finally(() => this.scheduleNext());
        },
        Math.max(0, wait),
      );
    };
    arm();
  }

  private enqueue(due: Date, scheduled: boolean, reason: string): Promise<void> {
    const run = this.chain.then(() => this.runOnce(due, scheduled, reason));
    this.chain = run.catch(() => undefined);
    return run;
  }

  private async runOnce(due: Date, scheduled: boolean, reason: string): Promise<void> {
    if (this.stopped && scheduled) return;
    const started = new Date();
    const timer: Timer = {
      isPastDue: scheduled && started.getTime() - due.getTime() > PAST_DUE_TOLERANCE_MS,
      schedule: { adjustForDST: true },
      scheduleStatus: { ...this.status },
    };
    const { registration, log } = this.options;
    try {
      await invoke({ functionName: registration.name, reason, triggerType: 'timerTrigger', log }, async (context) => {
        await registration.options.handler(timer, context);
      });
    } finally {
      // A scheduled run counts from its due time (as the host adjusts an early-firing timer); others from now.
      const last = scheduled ? due : started;
      this.status = {
        last: last.toISOString(),
        next: this.schedule.next(last).toISOString(),
        lastUpdated: last.toISOString(),
      };
    }
  }
}
