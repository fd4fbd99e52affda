import type { AppConfig } from '../config';
import { createAppInsightsTelemetry } from './app-insights';
import { ConsoleTelemetry } from './console-telemetry';
import type { Telemetry } from './telemetry';

export type { Telemetry } from './telemetry';
export { TELEMETRY_EVENTS, type TelemetryEventName } from './events';

/** Application Insights when a connection string is set; otherwise console lines only, no network calls. */
export function createTelemetry(
  config: Pick<AppConfig, 'appInsightsConnectionString' | 'appInsightsAuthenticationString'>,
): Telemetry {
  if (!config.appInsightsConnectionString) return new ConsoleTelemetry();
  return createAppInsightsTelemetry({
    connectionString: config.appInsightsConnectionString,
    authenticationString: config.appInsightsAuthenticationString,
  });
}
