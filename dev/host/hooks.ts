import { setTimeout as sleep } from 'node:timers/promises';
import { AppStartContext, AppTerminateContext } from '@azure/functions';
import { hostLine, type LogSink } from './invoke';
import type { FunctionRegistry } from './registry';

/** The grace period the host gives the worker to end when it stops it (WorkerTerminate). */
export const APP_TERMINATE_GRACE_MS = 5_000;

/**
 * App hooks as the Node worker runs them: `appStart` hooks one after the other once the entry point is loaded (before
 * anything is served; one that fails fails the start), `appTerminate` hooks one after the other when the host stops
 * the worker, which then exits whether or not they are done within the grace period. Both share one `hookData`.
 */
export async function runAppStartHooks(functions: FunctionRegistry, hookData: Record<string, unknown>): Promise<void> {
  for (const hook of functions.appStartHooks) {
    try {
      await hook(new AppStartContext({ hookData }));
    } catch (error) {
      throw new Error(`An appStart hook failed: ${error instanceof Error ? error.message : String(error)}`, {
        cause: error,
      });
    }
  }
}

export async function runAppTerminateHooks(
  functions: FunctionRegistry,
  hookData: Record<string, unknown>,
  log: LogSink,
  graceMs = APP_TERMINATE_GRACE_MS,
): Promise<void> {
  if (functions.appTerminateHooks.length === 0) return;
  const done = new AbortController();
  const hooks = (async () => {
    for (const hook of functions.appTerminateHooks) await hook(new AppTerminateContext({ hookData }));
    return 'done' as const;
  })().catch((error: unknown) => {
    log(hostLine(`[Error] An appTerminate hook failed: ${error instanceof Error ? error.message : String(error)}`));
    return 'failed' as const;
  });
  const graceOver = sleep(graceMs, 'grace over' as const, { signal: done.signal }).catch(() => 'done' as const);
  const outcome = await Promise.race([hooks, graceOver]);
  done.abort();
  if (outcome === 'grace over') {
    log(hostLine(`[Warning] appTerminate hooks did not finish within the ${graceMs} ms grace period; stopped anyway`));
  }
}
