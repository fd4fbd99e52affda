import type { TokenCredential } from '@azure/core-auth';
import type { TlsSettings } from '@azure/core-rest-pipeline';
import type * as Identity from '@azure/identity';
import type * as ApplicationInsights from 'applicationinsights';
import type { TelemetryEventName } from './events';
import { withoutSecretProperties } from './safe-properties';
import type { FlushableTelemetry } from './telemetry';

/**
 * Application Insights through the `applicationinsights` 3.x package: its `TelemetryClient` maps trackEvent /
 * trackDependency / trackException onto the Azure Monitor OpenTelemetry distro (`useAzureMonitor`), which is the route
 * Microsoft recommends for Node, while keeping the classic event/dependency shapes that the alert rules query. The
 * distro registers global OpenTelemetry providers, so there is one instance per process.
 *
 * The package is loaded only when a connection string is configured: it pulls in the whole OpenTelemetry SDK, which a
 * run without Application Insights should not pay for at cold start.
 *
 * The Functions host already reports requests, so only what it cannot see is collected here: custom events, Partner
 * Center dependencies (reported explicitly with their MS-* ids), Azure SDK calls (storage, Key Vault; traced by the
 * distro through @azure/core-tracing) and handled exceptions.
 */

type AppInsightsModule = typeof ApplicationInsights;
type DistroOptions = ApplicationInsights.TelemetryClient['config']['azureMonitorOpenTelemetryOptions'];

export interface AppInsightsOptions {
  connectionString: string;
  /** `APPLICATIONINSIGHTS_AUTHENTICATION_STRING`, e.g. `ClientId=<uami client id>;Authorization=AAD`. */
  authenticationString?: string;
  /** Builds the Entra credential for `Authorization=AAD` (injectable for tests). */
  createCredential?: (clientId: string | undefined) => TokenCredential;
  /** Extra trust for the ingestion endpoint's certificate: a private CA (TLS-inspecting proxy), or a test endpoint. */
  ingestionTls?: TlsSettings;
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
  // Lazy for the same cold-start reason as the SDK itself.
  // eslint-disable-next-line @typescript-eslint/no-require-imports -- deliberately lazy, synchronous load
  const { ManagedIdentityCredential } = require('@azure/identity') as typeof Identity;
  return clientId ? new ManagedIdentityCredential({ clientId }) : new ManagedIdentityCredential();
}

function loadApplicationInsights(): AppInsightsModule {
  // A synchronous, lazy require keeps the ~200 MB OpenTelemetry SDK out of every cold start without a connection
  // string, and keeps createTelemetry synchronous (an `await import()` would make every caller async).
  // eslint-disable-next-line @typescript-eslint/no-require-imports -- deliberately lazy, synchronous load
  return require('applicationinsights') as AppInsightsModule;
}

/** "POST /v1/productUpgrades/{id}/status" → the HTTP method, so the exporter files the call as an HTTP dependency. */
const HTTP_DEPENDENCY_NAME = /^(GET|POST|PUT|PATCH|DELETE|HEAD|OPTIONS) \//;

let active: { connectionString: string; telemetry: FlushableTelemetry; stopped: boolean } | undefined;

/**
 * Sets up Application Insights once per process. A second call with the same connection string returns the same
 * instance; another connection string, or any call after `shutdown()`, is refused: the package's default client and
 * the OpenTelemetry providers are process-wide and cannot be set up twice.
 */
export function createAppInsightsTelemetry(options: AppInsightsOptions): FlushableTelemetry {
  if (active?.stopped) throw new Error('Application Insights was shut down in this process; it cannot be set up again');
  if (active) {
    if (active.connectionString === options.connectionString) return active.telemetry;
    throw new Error('Application Insights is already set up in this process for another connection string');
  }
  const appInsights = loadApplicationInsights();
  appInsights
    .setup(options.connectionString)
    .setAutoCollectConsole(false)
    .setAutoCollectRequests(false) // the Functions host reports requests itself
    .setAutoCollectDependencies(false) // Partner Center calls are reported explicitly, with their MS-* headers
    .setAutoCollectPerformance(false, false)
    // Off: the shim would add process-wide uncaughtException/unhandledRejection listeners, which changes Node's
    // crash-on-unhandled-rejection behaviour; the Functions host records failed invocations with their exception.
    .setAutoCollectExceptions(false)
    .setSendLiveMetrics(false); // the host feeds Live Metrics; the worker would add a QuickPulse ping every few seconds
  const client = appInsights.defaultClient;
  const entra = parseAuthenticationString(options.authenticationString);
  if (entra) client.config.aadTokenCredential = (options.createCredential ?? defaultCredential)(entra.clientId);
  // Why sampling is set here: the shim forwards only `samplingRatio` to the distro, whose default (1.20 here) is a
  // RateLimitedSampler (tracesPerSecond: 5, 0.1 s adaptation window). It drops spans that come in bursts, and the
  // first ones after start-up, so most trackDependency calls of a poll run never left the process. This app's volume
  // is small and every Partner Center call's MS-* ids matter to support, so tracesPerSecond: 0 selects the
  // percentage sampler at samplingRatio 1 (100 %). OTEL_TRACES_SAMPLER / _ARG still override this (the distro reads
  // them last), so operators can turn sampling on without a deployment.
  const distroOptions: DistroOptions = {
    tracesPerSecond: 0,
    samplingRatio: 1,
    azureMonitorExporterOptions: {
      connectionString: options.connectionString,
      ...(options.ingestionTls ? { tlsOptions: options.ingestionTls } : {}),
    },
  };
  client.config.azureMonitorOpenTelemetryOptions = distroOptions;
  appInsights.start();

  const telemetry: FlushableTelemetry = {
    event(name: TelemetryEventName, properties = {}, measurements = {}) {
      client.trackEvent({ name, properties: withoutSecretProperties(properties), measurements });
    },
    dependency(call) {
      const method = HTTP_DEPENDENCY_NAME.exec(call.name)?.[1];
      client.trackDependency({
        name: call.name,
        target: call.target,
        dependencyTypeName: 'HTTP',
        duration: call.durationMs,
        success: call.success,
        resultCode: call.resultCode,
        // The shim never sets the HTTP method, without which the exporter files the span as a generic "Dependency"
        // with result code 0; `http.method` is the OpenTelemetry attribute it reads (and keeps out of properties).
        // No `data`/URL on purpose: the exporter would rename the dependency after the URL path, ids included.
        properties: { ...withoutSecretProperties(call.properties), ...(method ? { 'http.method': method } : {}) },
      });
    },
    exception(error, properties = {}) {
      client.trackException({ exception: error, properties: withoutSecretProperties(properties) });
    },
    flush: () => client.flush(),
    async shutdown() {
      if (state.stopped) return;
      state.stopped = true;
      await client.flush();
      await client.shutdown();
    },
  };
  const state = { connectionString: options.connectionString, telemetry, stopped: false };
  active = state;
  return telemetry;
}
