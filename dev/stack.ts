import { createServer, type IncomingMessage, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { Webhook } from 'standardwebhooks';
import { loadConfig, type AppConfig } from '../shared/config';
import { CachedSecretStore, EnvironmentSecretStore } from '../shared/secrets';
import { createServices, resetServices, type Services } from '../shared/services';
import { createTelemetry, noTelemetry, type Telemetry, type TelemetryEventName } from '../shared/telemetry';
import { TrackingStore } from '../shared/tracking';
import { RecordingTelemetry } from './recording-telemetry';
import { newSigningSecret, WEBHOOK_ID_HEADER } from '../shared/webhooks/signing';
import { newWebhookId, signedHeaders, type SignOptions } from './signing';
import { startAzurite, type RunningAzurite } from './azurite';
import {
  startLocalHost,
  type FinishedInvocation,
  type HostJsonOverrides,
  type LocalHost,
  type TimerClock,
} from './host';
import { appSettingsFor, startSimulator, type RunningSimulator, type SimulatorOptions } from './simulator';

/**
 * The local stack every harness runs the app on — the tests, the reliability suite, the benchmark and the demo:
 * Azurite, the Partner Center simulator over loopback HTTP, the app's settings, the app's services, and, when asked,
 * the app itself in the local Functions host in this process. Callers say only what they vary. The app's settings
 * are made in one place (`stackSettings`), and webhooks are signed in one place (`signedHeaders`, dev/signing.ts).
 * (`npm start` has its own start-up: fixed ports, persisted data, settings files.)
 */

/** A schedule that does not come round during a run (midnight, 1 January): the poller runs when a caller starts it. */
export const QUIET_SCHEDULE = '0 0 0 1 1 *';

/** How the parts are reached: storage, and the Partner Center the app talks to (a simulator). */
export interface SettingsParts {
  /** Storage connection string (an Azurite's). */
  storage: string;
  partnerCenter: Pick<RunningSimulator, 'url' | 'credentials'>;
  tablePrefix?: string;
  /** WEBHOOK_SIGNING_SECRET (a `whsec_` secret); '' (the default) sets none, so the app refuses POST webhooks. */
  webhookSecret?: string;
}

/**
 * The app settings of a local stack: storage, the simulator (`appSettingsFor`), no Key Vault (secrets are the
 * settings' own values), no Application Insights, and a quiet poll schedule; then the caller's overrides.
 */
export function stackSettings(parts: SettingsParts, overrides: Record<string, string> = {}): Record<string, string> {
  return {
    AzureWebJobsStorage: parts.storage,
    ...(parts.tablePrefix ? { TABLE_NAME_PREFIX: parts.tablePrefix } : {}),
    ...appSettingsFor(parts.partnerCenter),
    KEY_VAULT_URL: '',
    APPLICATIONINSIGHTS_CONNECTION_STRING: '',
    WEBHOOK_SIGNING_SECRET: parts.webhookSecret ?? '',
    POLL_SCHEDULE: QUIET_SCHEDULE,
    ...overrides,
  };
}

export { newWebhookId, signedHeaders, type SignOptions };

/** The app's secret store for a stack: the secret values of its settings (not of this process's environment). */
export function settingsSecretStore(settings: Record<string, string>, config: AppConfig): CachedSecretStore {
  return new CachedSecretStore(new EnvironmentSecretStore({ ...settings }), { ttlMs: config.secrets.cacheTtlMs });
}

/**
 * The app's services from a stack's settings, as the app builds them (`createServices`), with secrets from the
 * settings and telemetry off unless given.
 */
export function stackServices(settings: Record<string, string>, overrides: Partial<Services> = {}): Services {
  const config = loadConfig({ ...settings });
  return createServices(config, {
    secrets: settingsSecretStore(settings, config),
    telemetry: noTelemetry,
    ...overrides,
  });
}

export interface TelemetryItem {
  kind: 'event' | 'dependency' | 'exception';
  name: string;
  properties: Record<string, string>;
  /** The whole item as text (for leak scans): name, properties, target, message, stack. */
  text: string;
}

/**
 * The app's telemetry in a stack: every item recorded (`events`, `dependencies`, `exceptions`, and `items` as text),
 * and forwarded to `inner` (the app's console telemetry when a caller wants to see it).
 */
export class StackTelemetry extends RecordingTelemetry {
  readonly items: TelemetryItem[] = [];

  constructor(private readonly inner: Telemetry = noTelemetry) {
    super();
  }

  /** The events of one name, oldest first. */
  named(name: TelemetryEventName): RecordingTelemetry['events'] {
    return this.events.filter((e) => e.name === name);
  }

  override event(
    name: TelemetryEventName,
    properties: Record<string, string> = {},
    measurements: Record<string, number> = {},
  ): void {
    super.event(name, properties, measurements);
    this.items.push({ kind: 'event', name, properties, text: JSON.stringify([name, properties]) });
    this.inner.event(name, properties, measurements);
  }

  override dependency(call: Parameters<Telemetry['dependency']>[0]): void {
    super.dependency(call);
    this.items.push({
      kind: 'dependency',
      name: call.name,
      properties: call.properties ?? {},
      text: JSON.stringify(call),
    });
    this.inner.dependency(call);
  }

  override exception(error: Error, properties: Record<string, string> = {}): void {
    super.exception(error, properties);
    const text = JSON.stringify([error.name, error.message, error.stack, properties]);
    this.items.push({ kind: 'exception', name: error.name, properties, text });
    this.inner.exception(error, properties);
  }
}

export interface ReceivedCallback {
  at: number;
  /** The signature checked out against the stack's callback secret. */
  verified: boolean;
  headers: Record<string, string | string[] | undefined>;
  raw: string;
  body: { eventId: string; event: string; upgradeId: string; customerId: string; status: string; [k: string]: unknown };
  answered: number;
}

/**
 * The billing system's callback endpoint: verifies each callback's signature (401 when it fails), records it, and
 * answers with the next status scripted for its customer, else what `answer` says, else 200.
 */
export class BillingReceiver {
  readonly received: ReceivedCallback[] = [];
  url = '';
  private readonly scripts = new Map<string, number[]>();
  private server: Server | undefined;

  constructor(
    private readonly secret: string,
    private readonly answer: (body: ReceivedCallback['body']) => number | undefined = () => undefined,
  ) {}

  /** Answers this customer's callbacks with these statuses in turn, then as usual. */
  script(customerId: string, statuses: number[]): void {
    this.scripts.set(customerId.toLowerCase(), [...statuses]);
  }

  for(upgradeId: string): ReceivedCallback[] {
    return this.received.filter((r) => r.body.upgradeId === upgradeId);
  }

  /** 2xx answers per event id. */
  delivered(): Map<string, number> {
    const counts = new Map<string, number>();
    for (const r of this.received) {
      if (r.answered < 300) counts.set(r.body.eventId, (counts.get(r.body.eventId) ?? 0) + 1);
    }
    return counts;
  }

  async start(): Promise<void> {
    this.server = createServer((req, res) => {
      void readText(req).then((raw) => {
        const verified = verifiedBy(this.secret, raw, req.headers);
        const body = JSON.parse(raw) as ReceivedCallback['body'];
        const script = this.scripts.get(String(body.customerId).toLowerCase()) ?? [];
        const answered = verified ? (script.shift() ?? this.answer(body) ?? 200) : 401;
        this.received.push({ at: Date.now(), verified, headers: req.headers, raw, body, answered });
        res.writeHead(answered, { 'content-type': 'text/plain' }).end(answered < 300 ? 'ok' : 'no');
      });
    });
    await new Promise<void>((resolve) => this.server!.listen(0, '127.0.0.1', resolve));
    // A key in the query, as receivers often take one: it must never show in a log or a record.
    this.url = `http://127.0.0.1:${(this.server.address() as AddressInfo).port}/billing/upgrades?code=receiver-key`;
  }

  async stop(): Promise<void> {
    const server = this.server;
    if (!server) return;
    server.closeAllConnections();
    await new Promise<void>((resolve) => server.close(() => resolve()));
  }
}

/** As a billing system verifies a callback: with the official Standard Webhooks library and its secret. */
function verifiedBy(secret: string, raw: string, headers: IncomingMessage['headers']): boolean {
  const values: Record<string, string> = {};
  for (const [name, value] of Object.entries(headers)) if (typeof value === 'string') values[name] = value;
  try {
    new Webhook(secret).verify(raw, values, { jsonParse: false });
    return true;
  } catch {
    return false;
  }
}

function readText(req: IncomingMessage): Promise<string> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    req.on('data', (chunk: Buffer) => chunks.push(chunk));
    req.on('end', () => resolve(Buffer.concat(chunks).toString('utf8')));
    req.on('error', reject);
  });
}

export interface StackOptions {
  /** Storage connection string of a running Azurite (shared); default: a private in-memory one, stopped with the stack. */
  storage?: string;
  simulator?: SimulatorOptions;
  /** Something in front of the simulator (a proxy): the URL the app uses for Partner Center and its token endpoint. */
  partnerCenterUrl?: (simulatorUrl: string) => Promise<string> | string;
  /** Something in front of the simulator's token endpoint only. */
  authorityHost?: (simulatorUrl: string) => Promise<string> | string;
  tablePrefix?: string;
  /**
   * WEBHOOK_SIGNING_SECRET; default a new `whsec_` secret; '' sets none (the app then refuses POST webhooks with 503,
   * unless the settings opt out with WEBHOOK_SIGNATURES=disabled).
   */
  webhookSecret?: string;
  /**
   * Starts a billing receiver (verifying with `secret`, a `whsec_` secret) and points the app's callbacks at it
   * (BILLING_CALLBACK_URL, CALLBACK_SIGNING_SECRET).
   */
  billing?: { secret: string; answer?: (body: ReceivedCallback['body']) => number | undefined };
  /** App settings over the stack's (`stackSettings`). */
  settings?: Record<string, string>;
  /** Also print the app's telemetry as the app does without Application Insights (default: recorded only). */
  consoleTelemetry?: boolean;
  /** Replaces the secret store (e.g. Key Vault through a fake); default: the settings' own secret values. */
  secrets?: (settings: Record<string, string>, config: AppConfig) => CachedSecretStore;
  /**
   * Replaces parts of the app's services, given the ones built from the settings (wrapped tables, another client,
   * other queues); the tracking store follows replaced tables.
   */
  services?: (built: Services) => Partial<Services> | Promise<Partial<Services>>;
}

export interface Stack {
  /** The stack's own Azurite (absent when it was given storage). */
  azurite: RunningAzurite | undefined;
  sim: RunningSimulator;
  /** The app's settings (what the host puts into process.env). */
  settings: Record<string, string>;
  config: AppConfig;
  /** The app's services: installed as the app's (`getServices()`) at start and by `install()`. */
  services: Services;
  telemetry: StackTelemetry;
  receiver: BillingReceiver | undefined;
  /** Installs this stack's services as the app's again (after a test replaced them). */
  install(): void;
  /** Signs a webhook body with the stack's secret (only a webhook-id when the stack has none). */
  signedHeaders: (rawBody: string | Buffer, options?: SignOptions) => Record<string, string>;
  stop(): Promise<void>;
}

export async function startStack(options: StackOptions = {}): Promise<Stack> {
  const stops: (() => Promise<void>)[] = [];
  const stopAll = async () => {
    resetServices();
    for (const stop of stops.reverse()) await stop().catch(() => undefined);
  };
  try {
    let azurite: RunningAzurite | undefined;
    let storage = options.storage;
    if (storage === undefined) {
      const own = await startAzurite();
      stops.push(() => own.stop());
      azurite = own;
      storage = own.connectionString;
    }
    const sim = await startSimulator({ port: 0, ...options.simulator });
    stops.push(() => sim.close());
    let receiver: BillingReceiver | undefined;
    if (options.billing) {
      const started = new BillingReceiver(options.billing.secret, options.billing.answer);
      await started.start();
      stops.push(() => started.stop());
      receiver = started;
    }
    const partnerCenterUrl = options.partnerCenterUrl ? await options.partnerCenterUrl(sim.url) : undefined;
    const authorityHost = options.authorityHost ? await options.authorityHost(sim.url) : undefined;
    const webhookSecret = options.webhookSecret ?? newSigningSecret();
    const settings = stackSettings(
      { storage, partnerCenter: sim, tablePrefix: options.tablePrefix, webhookSecret },
      {
        ...(partnerCenterUrl
          ? { PARTNER_CENTER_API_URL: partnerCenterUrl, PARTNER_CENTER_AUTHORITY_HOST: partnerCenterUrl }
          : {}),
        ...(authorityHost ? { PARTNER_CENTER_AUTHORITY_HOST: authorityHost } : {}),
        ...(options.billing && receiver
          ? { BILLING_CALLBACK_URL: receiver.url, CALLBACK_SIGNING_SECRET: options.billing.secret }
          : {}),
        ...options.settings,
      },
    );
    const config = loadConfig(settings);
    const secrets = options.secrets?.(settings, config) ?? settingsSecretStore(settings, config);
    const telemetry = new StackTelemetry(options.consoleTelemetry ? createTelemetry(config) : noTelemetry);
    const built = createServices(config, { secrets, telemetry });
    stops.push(() => Promise.resolve(built.consent.dispose()));
    const replaced = (await options.services?.(built)) ?? {};
    const services: Services = {
      ...built,
      ...(replaced.tables ? { tracking: new TrackingStore(replaced.tables) } : {}),
      ...replaced,
    };
    const install = () => resetServices(services);
    install();
    return {
      azurite,
      sim,
      settings,
      config,
      services,
      telemetry,
      receiver,
      install,
      signedHeaders: (rawBody, sign = {}) =>
        webhookSecret
          ? signedHeaders(rawBody, webhookSecret, sign)
          : { [WEBHOOK_ID_HEADER]: sign.webhookId ?? newWebhookId() },
      stop: stopAll,
    };
  } catch (error) {
    await stopAll();
    throw error;
  }
}

export interface HttpAnswer {
  status: number;
  headers: Record<string, string>;
  /** JSON when the body parses as JSON, else the text; undefined when empty. */
  body: unknown;
  text: string;
}

export interface PostOptions {
  /** Extra headers, set after signing; null removes one (`'webhook-signature': null` sends no signature). */
  headers?: Record<string, string | null>;
  /** Sign with this secret instead of the stack's. */
  secret?: string;
  /** Sign as of this time (unix seconds) instead of now. */
  signedAt?: number;
  /** The request's webhook-id (signed with it); default a new one. */
  webhookId?: string;
  /** Default application/json; null sends none. */
  contentType?: string | null;
}

/** How the local host runs the stack's app. */
export interface HostOptions {
  /** Overrides merged over host.json; default: queues polled every 200 ms. */
  hostJson?: HostJsonOverrides;
  /** What the host's timers wait on; default the system clock. */
  clock?: TimerClock;
  /** Each host log line, as it is written (they are kept in `logs` too). */
  log?: (line: string) => void;
}

/** A stack with the app running in the local Functions host, in this process. */
export interface HostedStack extends Stack {
  host: LocalHost;
  /** Every host log line, in order. */
  logs: string[];
  /** Every invocation that has ended, in order. */
  invocations: FinishedInvocation[];
  /** Resolves when the next invocation of `functionName` to end after this call has ended. */
  nextInvocation(functionName: string): Promise<FinishedInvocation>;
  /**
   * Resolves with what `check` finds once it finds something: checked now, then each time an invocation of
   * `functionName` ends (for a state that function makes).
   */
  until<T>(functionName: string, check: () => T | undefined | Promise<T | undefined>): Promise<T>;
  /** Resolves once startTracking has put the upgrade into the poll schedule. */
  tracked(upgradeId: string): Promise<void>;
  /**
   * Runs a function through the admin API (`POST /admin/functions/{name}`, answered 202 at once), as an operator
   * does, and resolves when that run has ended (rejects if it failed).
   */
  runByAdmin(functionName: string, input?: string): Promise<FinishedInvocation>;
  /** POST to an HTTP function (`path` under the route prefix, e.g. `/upgrades`), signed as the billing system signs. */
  post(path: string, body: string | object, options?: PostOptions): Promise<HttpAnswer>;
  get(path: string, headers?: Record<string, string>): Promise<HttpAnswer>;
}

export type HostedStackOptions = StackOptions & HostOptions;

/** `startStack`, then the app in the local host (`hostStack`). `stop()` stops both. */
export async function startHostedStack(options: HostedStackOptions = {}): Promise<HostedStack> {
  const stack = await startStack(options);
  try {
    return await hostStack(stack, options);
  } catch (error) {
    await stack.stop();
    throw error;
  }
}

/**
 * Runs the stack's app in the local Functions host, in this process, on a free port: the app loaded from its sources
 * (under jest) or its build, with the stack's settings and services. `stop()` stops the host, then the stack.
 */
export async function hostStack(stack: Stack, options: HostOptions = {}): Promise<HostedStack> {
  const logs: string[] = [];
  const invocations: FinishedInvocation[] = [];
  const waiting: { functionName: string; resolve: (finished: FinishedInvocation) => void }[] = [];
  const host = await startLocalHost({
    port: 0,
    settings: stack.settings,
    hostJson: options.hostJson ?? { extensions: { queues: { maxPollingInterval: '00:00:00.200' } } },
    clock: options.clock,
    log: (line) => {
      logs.push(line);
      options.log?.(line);
    },
    onInvocation: (finished) => {
      invocations.push(finished);
      const name = finished.functionName.toLowerCase();
      for (const waiter of waiting.filter((w) => w.functionName === name)) {
        waiting.splice(waiting.indexOf(waiter), 1);
        waiter.resolve(finished);
      }
    },
  });
  const nextInvocation = (functionName: string) =>
    new Promise<FinishedInvocation>((resolve) => waiting.push({ functionName: functionName.toLowerCase(), resolve }));
  const until = async <T>(functionName: string, check: () => T | undefined | Promise<T | undefined>): Promise<T> => {
    for (;;) {
      const next = nextInvocation(functionName); // before the check: an invocation ending meanwhile is not missed
      const found = await check();
      if (found !== undefined) return found;
      await next;
    }
  };
  const api = (path: string) => `${host.url}/api${path}`;
  return {
    ...stack,
    host,
    logs,
    invocations,
    nextInvocation,
    until,
    async tracked(upgradeId) {
      await until('startTracking', async () => {
        const found = await stack.services.tracking.readUpgrade(upgradeId);
        return found?.record.scheduleKey ? true : undefined;
      });
    },
    async runByAdmin(functionName, input) {
      const finished = nextInvocation(functionName);
      const response = await fetch(`${host.url}/admin/functions/${functionName}`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify(input === undefined ? {} : { input }),
      });
      if (response.status !== 202) throw new Error(`admin API: ${functionName} answered ${response.status}`);
      const ended = await finished;
      if (ended.outcome !== 'Succeeded') throw new Error(`${functionName} failed (invocation ${ended.invocationId})`);
      return ended;
    },
    async post(path, body, postOptions = {}) {
      const raw = typeof body === 'string' ? body : JSON.stringify(body);
      const contentType = postOptions.contentType === undefined ? 'application/json' : postOptions.contentType;
      const sign: SignOptions = { webhookId: postOptions.webhookId, at: postOptions.signedAt };
      const headers: Record<string, string> = {
        ...(contentType === null ? {} : { 'content-type': contentType }),
        ...(postOptions.secret === undefined
          ? stack.signedHeaders(raw, sign)
          : signedHeaders(raw, postOptions.secret, sign)),
      };
      for (const [name, value] of Object.entries(postOptions.headers ?? {})) {
        if (value === null) delete headers[name.toLowerCase()];
        else headers[name.toLowerCase()] = value;
      }
      return httpAnswer(await fetch(api(path), { method: 'POST', headers, body: raw }));
    },
    async get(path, headers) {
      return httpAnswer(await fetch(api(path), { headers }));
    },
    async stop() {
      await host.stop();
      await stack.stop();
    },
  };
}

async function httpAnswer(response: Response): Promise<HttpAnswer> {
  const text = await response.text();
  let body: unknown = undefined;
  if (text !== '') {
    try {
      body = JSON.parse(text) as unknown;
    } catch {
      body = text;
    }
  }
  const headers: Record<string, string> = {};
  response.headers.forEach((value, name) => (headers[name.toLowerCase()] = value));
  return { status: response.status, headers, body, text };
}

/** An access token from the simulator's token endpoint (refresh-token grant): to act on Partner Center directly. */
export async function simulatorToken(sim: Pick<RunningSimulator, 'url' | 'credentials'>): Promise<string> {
  const { tenantId, clientId, clientSecret, refreshToken } = sim.credentials;
  const response = await fetch(`${sim.url}/${tenantId}/oauth2/v2.0/token`, {
    method: 'POST',
    headers: { 'content-type': 'application/x-www-form-urlencoded' },
    body: new URLSearchParams({
      grant_type: 'refresh_token',
      client_id: clientId,
      client_secret: clientSecret,
      refresh_token: refreshToken,
      scope: 'https://api.partnercenter.microsoft.com/.default',
    }),
  });
  if (!response.ok) throw new Error(`simulator token endpoint answered ${response.status}`);
  return ((await response.json()) as { access_token: string }).access_token;
}
