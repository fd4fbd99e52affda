import { startLocalHost, type LocalHost, type LocalHostOptions } from '../../dev/host';

/**
 * Starts the local Functions host in-process for end-to-end tests, on a free port, against the test Azurite
 * (`process.env.AzureWebJobsStorage`, set by the integration global setup), logging into an array (printed only
 * when asked) instead of the console. Without `functions`, it loads the real app from its TypeScript sources.
 */
export interface TestLocalHost extends LocalHost {
  logs: string[];
}

export async function startTestLocalHost(options: LocalHostOptions = {}): Promise<TestLocalHost> {
  const connection = process.env.AzureWebJobsStorage;
  if (!connection) throw new Error('AzureWebJobsStorage is not set: run this in the integration project (Azurite)');
  const logs: string[] = [];
  const host = await startLocalHost({
    port: 0,
    log: (line) => logs.push(line),
    ...options,
    settings: { ...options.settings, AzureWebJobsStorage: connection },
  });
  return Object.assign(host, { logs });
}

/** Polls `check` until it returns a value other than undefined, or fails after `timeoutMs`. */
export async function eventually<T>(
  check: () => T | undefined | Promise<T | undefined>,
  timeoutMs = 15_000,
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await check();
    if (value !== undefined) return value;
    if (Date.now() > deadline) throw new Error(`Condition not met within ${timeoutMs} ms`);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}
