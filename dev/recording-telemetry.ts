import type { Telemetry, TelemetryEventName } from '../shared/telemetry';

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
