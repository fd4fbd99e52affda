import { randomUUID } from 'node:crypto';
import { format } from 'node:util';
import { InvocationContext, type LogLevel, type TriggerMetadata } from '@azure/functions';

/** How an invocation ended: what a watcher of the host waits on (tests, the demo), rather than on log text. */
export interface FinishedInvocation {
  functionName: string;
  invocationId: string;
  /** Why it ran (see `InvocationRequest.reason`). */
  reason: string;
  outcome: 'Succeeded' | 'Failed';
  durationMs: number;
}

/** Receives each finished console line (no trailing newline); the line that ends an invocation carries its outcome. */
export type LogSink = (line: string, finished?: FinishedInvocation) => void;

/** The host's level names: Information, Warning, Error, ... */
const levelName = (level: LogLevel): string => level.charAt(0).toUpperCase() + level.slice(1);

export function hostLine(message: string): string {
  return `[${new Date().toISOString()}] ${message}`;
}

export interface InvocationRequest {
  functionName: string;
  /** Why it runs, as Core Tools words it ("New queue message detected on 'x'.", "Timer fired at ..."). */
  reason: string;
  triggerMetadata?: TriggerMetadata;
  triggerType: string;
  log: LogSink;
}

/**
 * Runs one invocation the way the Functions host frames it: a fresh InvocationContext whose log calls become console
 * lines carrying the function name and invocation id, and Executing / Executed lines with outcome and duration.
 * Resolves with the handler's result; rejects with the handler's error after logging it (no stack in responses:
 * callers decide what to send).
 */
export async function invoke<T>(
  request: InvocationRequest,
  call: (context: InvocationContext) => Promise<T> | T,
): Promise<T> {
  const invocationId = randomUUID();
  const { functionName, log } = request;
  const context = new InvocationContext({
    functionName,
    invocationId,
    triggerMetadata: request.triggerMetadata ?? {},
    options: { trigger: { type: request.triggerType, name: 'trigger' }, extraInputs: [], extraOutputs: [] },
    logHandler: (level, ...args) =>
      log(hostLine(`[${levelName(level)}] ${functionName} (${invocationId}): ${format(...args)}`)),
  });
  log(hostLine(`Executing 'Functions.${functionName}' (Reason='${request.reason}', Id=${invocationId})`));
  const started = performance.now();
  try {
    const result = await call(context);
    const duration = Math.round(performance.now() - started);
    log(hostLine(`Executed 'Functions.${functionName}' (Succeeded, Id=${invocationId}, Duration=${duration}ms)`), {
      functionName,
      invocationId,
      reason: request.reason,
      outcome: 'Succeeded',
      durationMs: duration,
    });
    return result;
  } catch (error) {
    const duration = Math.round(performance.now() - started);
    // Logged here, with its stack, for the developer; never put into an HTTP response.
    const detail = error instanceof Error ? (error.stack ?? error.message) : format(error);
    log(hostLine(`[Error] ${functionName} (${invocationId}): Exception while executing function: ${detail}`));
    log(hostLine(`Executed 'Functions.${functionName}' (Failed, Id=${invocationId}, Duration=${duration}ms)`), {
      functionName,
      invocationId,
      reason: request.reason,
      outcome: 'Failed',
      durationMs: duration,
    });
    throw error;
  }
}
