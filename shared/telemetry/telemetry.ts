import type { TelemetryEventName } from './events';

/**
 * What the domain reports to operators. The Application Insights implementation is set up once at start-up;
 * without a connection string the console one is used (no network calls). Properties must never hold secrets.
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

/** Discards everything: for tests that do not look at telemetry. */
export const noTelemetry: Telemetry = {
  event: () => undefined,
  dependency: () => undefined,
  exception: () => undefined,
};

/** Records everything in memory: for tests that assert on telemetry. */
export class RecordingTelemetry implements Telemetry {
  readonly events: {
    name: TelemetryEventName;
    properties: Record<string, string>;
    measurements: Record<string, number>;
  }[] = [];
  readonly dependencies: Parameters<Telemetry['dependency']>[0][] = [];
  readonly exceptions: { error: Error; properties: Record<string, string> }[] = [];

  event(
    name: TelemetryEventName,
    properties: Record<string, string> = {},
    measurements: Record<string, number> = {},
  ): void {
    this.events.push({ name, properties, measurements });
  }
  dependency(call: Parameters<Telemetry['dependency']>[0]): void {
    this.dependencies.push(call);
  }
  exception(error: Error, properties: Record<string, string> = {}): void {
    this.exceptions.push({ error, properties });
  }
}
