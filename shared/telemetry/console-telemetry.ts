import type { TelemetryEventName } from './events';
import type { Telemetry } from './telemetry';

export type LogLine = (line: string) => void;

/**
 * Telemetry without Application Insights: one structured console line per event, no network call. Dependencies are
 * logged only when they fail (a local run would otherwise print every Partner Center call).
 */
export class ConsoleTelemetry implements Telemetry {
  constructor(private readonly write: LogLine = (line) => console.log(line)) {}

  event(
    name: TelemetryEventName,
    properties: Record<string, string> = {},
    measurements: Record<string, number> = {},
  ): void {
    this.write(`[telemetry] event ${name} ${JSON.stringify({ ...properties, ...measurements })}`);
  }

  dependency(call: Parameters<Telemetry['dependency']>[0]): void {
    if (call.success) return;
    this.write(
      `[telemetry] dependency failed ${call.name} → ${call.resultCode} in ${Math.round(call.durationMs)} ms ${JSON.stringify(call.properties ?? {})}`,
    );
  }

  exception(error: Error, properties: Record<string, string> = {}): void {
    this.write(`[telemetry] exception ${error.name}: ${error.message} ${JSON.stringify(properties)}`);
  }
}
