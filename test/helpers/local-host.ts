import { setTimeout as sleep } from 'node:timers/promises';
import { startLocalHost, type LocalHost, type LocalHostOptions, type TimerClock } from '../../dev/host';

/**
 * Starts the local Functions host in-process for end-to-end tests, on a free port, against the test Azurite
 * (`process.env.AzureWebJobsStorage`, set by the integration global setup), logging into an array (printed only
 * when asked) instead of the console. Without `functions`, it loads the real app from its TypeScript sources.
 */
export interface TestLocalHost extends LocalHost {
  logs: string[];
  /** Resolves with the first log line (already logged or still to come) that matches. */
  logged(pattern: RegExp): Promise<string>;
}

export async function startTestLocalHost(options: LocalHostOptions = {}): Promise<TestLocalHost> {
  const connection = process.env.AzureWebJobsStorage;
  if (!connection) throw new Error('AzureWebJobsStorage is not set: run this in the integration project (Azurite)');
  const logs: string[] = [];
  const waiting: { pattern: RegExp; resolve: (line: string) => void }[] = [];
  const host = await startLocalHost({
    port: 0,
    log: (line) => {
      logs.push(line);
      for (const waiter of waiting.filter((w) => w.pattern.test(line))) {
        waiting.splice(waiting.indexOf(waiter), 1);
        waiter.resolve(line);
      }
    },
    ...options,
    settings: { ...options.settings, AzureWebJobsStorage: connection },
  });
  const logged = (pattern: RegExp): Promise<string> => {
    const line = logs.find((l) => pattern.test(l));
    return line !== undefined ? Promise.resolve(line) : new Promise((resolve) => waiting.push({ pattern, resolve }));
  };
  return Object.assign(host, { logs, logged });
}

/**
 * Polls `check` until it returns a value other than undefined, or fails after `timeoutMs`: for a state outside the
 * app's invocations (a queue drained, a receiver reached). A state an invocation makes is awaited on the invocation
 * (`HostedStack.until`).
 */
export async function eventually<T>(
  check: () => T | undefined | Promise<T | undefined>,
  timeoutMs = 15_000,
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await check();
    if (value !== undefined) return value;
    if (Date.now() > deadline) throw new Error(`Condition not met within ${timeoutMs} ms`);
    await sleep(50);
  }
}

/** A clock for the host's timers that moves only when the test moves it. */
export interface VirtualClock extends TimerClock {
  /** Sets the time and wakes every timer due by then. */
  advanceTo(at: number | string): void;
}

export function virtualClock(start: number | string): VirtualClock {
  let now = typeof start === 'string' ? Date.parse(start) : start;
  const sleepers = new Set<{ at: number; wake: () => void }>();
  return {
    now: () => now,
    sleep: (ms, signal) =>
      new Promise<void>((resolve) => {
        const sleeper = { at: now + ms, wake: resolve };
        sleepers.add(sleeper);
        const abort = (): void => {
          sleepers.delete(sleeper);
          resolve();
        };
        signal.addEventListener('abort', abort, { once: true });
      }),
    advanceTo(at) {
      now = typeof at === 'string' ? Date.parse(at) : at;
      for (const sleeper of [...sleepers].filter((s) => s.at <= now)) {
        sleepers.delete(sleeper);
        sleeper.wake();
      }
    },
  };
}
