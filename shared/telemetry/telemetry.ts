import type { TelemetryEventName } from './events';

/**
 * What the domain reports to operators. The Application Insights implementation is set up once at start-up;
 * without a connection string the console one is used (no network calls).
 *
 * Callers must never pass secrets (tokens, keys, signatures, connection strings) in properties or error messages. As a
 * second line of defence both implementations drop every property whose key matches SECRET_PROPERTY_KEY
 * (`safe-properties.ts`), but a secret under an innocent key, or inside a message, would still be sent.
 */
export interface Telemetry {
  event(name: TelemetryEventName, properties?: Record<string, string>, measurements?: Record<string, number>): void;
  dependency(call: {
    name: string;
    target: string;
    durationMs: number;
    success: boolean;
    resultCode: number | string;
    properties?: Record<string, string>;
  }): void;
  exception(error: Error, properties?: Record<string, string>): void;
}

/** A telemetry that can be drained: call `flush()` before a process ends, `shutdown()` once at the very end. */
export interface FlushableTelemetry extends Telemetry {
  /** Sends everything queued now. */
  flush(): Promise<void>;
  /** Flushes and stops exporters and timers; terminal for the process. */
  shutdown(): Promise<void>;
}

/** True for a telemetry that queues and can be drained (what `createTelemetry` makes; test doubles need not be). */
export function isFlushable(telemetry: Telemetry): telemetry is FlushableTelemetry {
  return typeof (telemetry as Partial<FlushableTelemetry>).flush === 'function';
}

/** Discards everything: what a component reports when it is given no telemetry. */
export const noTelemetry: Telemetry = {
  event: () => undefined,
  dependency: () => undefined,
  exception: () => undefined,
};
