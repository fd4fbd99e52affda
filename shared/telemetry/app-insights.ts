import type { TokenCredential } from '@azure/core-auth';
import type { TelemetryEventName } from './events';
import type { Telemetry } from './telemetry';

/**
 * Application Insights through the `applicationinsights` 3.x package (a shim over the Azure Monitor OpenTelemetry
 * distro). Loaded with `require` only when a connection string is configured: the package pulls in the whole
 * OpenTelemetry SDK and costs seconds of cold start (see `npm run bench`), which a local run without App Insights
 * should not pay. The Functions host already reports requests, so only what the host cannot see is collected here:
 * custom events, Partner Center dependencies and handled exceptions.
 */

type AppInsightsModule = typeof import('applicationinsights');

export interface AppInsightsOptions {
  connectionString: string;
  /** `APPLICATIONINSIGHTS_AUTHENTICATION_STRING`, e.g. `ClientId=<uami client id>;Authorization=AAD`. */
  authenticationString?: string;
  /** Builds the Entra credential for `Authorization=AAD` (injectable for tests). */
  createCredential?: (clientId: string | undefined) => TokenCredential;
}

export interface FlushableTelemetry extends Telemetry {
  flush(): Promise<void>;
}

/** Parses `ClientId=...;Authorization=AAD`; undefined when Entra authentication is not asked for. */
export function parseAuthenticationString(value: string | undefined): { clientId: string | undefined } | undefined {
  if (!value) return undefined;
  const parts = new Map(
    value
      .split(';')
      .map((part) => part.split('=').map((s) => s.trim()))
      .filter((kv): kv is [string, string] => kv.length === 2 && kv[0] !== '')
      .map(([k, v]) => [k.toLowerCase(), v]),
  );
  if (parts.get('authorization')?.toLowerCase() !== 'aad') return undefined;
  return { clientId: parts.get('clientid') };
}

function defaultCredential(clientId: string | undefined): TokenCredential {
  // Loaded lazily for the same cold-start reason as the SDK itself.
  const { ManagedIdentityCredential } = require('@azure/identity') as typeof import('@azure/identity');
  return clientId ? new ManagedIdentityCredential({ clientId }) : new ManagedIdentityCredential();
}

export function createAppInsightsTelemetry(options: AppInsightsOptions): FlushableTelemetry {
  const appInsights = require('applicationinsights') as AppInsightsModule;
  appInsights
    .setup(options.connectionString)
    .setAutoCollectConsole(false)
    .setAutoCollectRequests(false) // the Functions host reports requests itself
    .setAutoCollectPerformance(false, false)
    .setAutoCollectExceptions(true)
    .setAutoCollectDependencies(false); // Partner Center calls are reported explicitly, with their MS-* headers
  const client = appInsights.defaultClient;
  const entra = parseAuthenticationString(options.authenticationString);
  if (entra) client.config.aadTokenCredential = (options.createCredential ?? defaultCredential)(entra.clientId);
  appInsights.start();
  return {
    event(name: TelemetryEventName, properties = {}, measurements = {}) {
      client.trackEvent({ name, properties, measurements });
    },
    dependency(call) {
      client.trackDependency({
        name: call.name,
        target: call.target,
        dependencyTypeName: 'HTTP',
        data: call.name,
        duration: call.durationMs,
        success: call.success,
        resultCode: call.resultCode,
        properties: call.properties,
      });
    },
    exception(error, properties = {}) {
      client.trackException({ exception: error, properties });
    },
    flush: () => client.flush(),
  };
}
