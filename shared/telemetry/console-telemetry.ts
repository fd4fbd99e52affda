import type { TelemetryEventName } from './events';
import { withoutSecretProperties } from './safe-properties';
import type { FlushableTelemetry, Telemetry } from './telemetry';

export type LogLine = (line: string) => void;

/**
 * Telemetry without Application Insights: one structured console line per event, no network call. Dependencies are
 * logged only when they fail (a local run would otherwise print every Partner Center call). Properties whose key
 * looks like a credential are dropped (see `safe-properties.ts`); callers must still never pass secrets.
 */
export class ConsoleTelemetry implements FlushableTelemetry {
  constructor(private readonly write: LogLine = (line) => console.log(line)) {}

  event(
    name: TelemetryEventName,
    properties: Record<string, string> = {},
    measurements: Record<string, number> = {},
  ): void {
    this.write(
      `[telemetry] event ${name} ${JSON.stringify({ ...withoutSecretProperties(properties), ...measurements })}`,
    );
  }

  dependency(call: Parameters<Telemetry['dependency']>[0]): void {
    if (call.success) return;
    this.write(
      `[telemetry] dependency failed ${call.name} → ${call.resultCode} in ${Math.round(call.durationMs)} ms ${JSON.stringify(withoutSecretProperties(call.properties))}`,
    );
  }

  exception(error: Error, properties: Record<string, string> = {}): void {
    this.write(
      `[telemetry] exception ${error.name}: ${error.message} ${JSON.stringify(withoutSecretProperties(properties))}`,
    );
  }

  /** Nothing is queued: every line is written at once. */
  flush(): Promise<void> {
    return Promise.resolve();
  }

  shutdown(): Promise<void> {
    return Promise.resolve();
  }
}
