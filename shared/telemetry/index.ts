import type { AppConfig } from '../config';
import { createAppInsightsTelemetry } from './app-insights';
import { ConsoleTelemetry } from './console-telemetry';
import type { FlushableTelemetry } from './telemetry';

export type { FlushableTelemetry, Telemetry } from './telemetry';
export { isFlushable, noTelemetry } from './telemetry';
export { ConsoleTelemetry, type LogLine } from './console-telemetry';
export { POLL_RUN_MEASUREMENTS, TELEMETRY_EVENTS, type TelemetryEventName } from './events';
export { SECRET_PROPERTY_KEY, withoutSecretProperties } from './safe-properties';

/**
 * Set up once per process at start-up. Application Insights when `APPLICATIONINSIGHTS_CONNECTION_STRING` is set
 * (Entra auth via `APPLICATIONINSIGHTS_AUTHENTICATION_STRING`); otherwise console lines only: no network calls, and the
 * `applicationinsights` package is not even loaded.
 */
export function createTelemetry(
  config: Pick<AppConfig, 'appInsightsConnectionString' | 'appInsightsAuthenticationString'>,
): FlushableTelemetry {
  if (!config.appInsightsConnectionString) return new ConsoleTelemetry();
  return createAppInsightsTelemetry({
    connectionString: config.appInsightsConnectionString,
    authenticationString: config.appInsightsAuthenticationString,
  });
}
