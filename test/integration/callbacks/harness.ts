import { randomUUID } from 'node:crypto';
import { createServer, type IncomingMessage, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { startAzurite, type RunningAzurite } from '../../../dev/azurite';
import { startLocalHost, type HostJsonOverrides, type LocalHost } from '../../../dev/host';
import {
  appSettingsFor,
  startSimulator,
  steppedClock,
  type CustomerSpec,
  type RunningSimulator,
  type SteppedClock,
} from '../../../dev/simulator';
import { loadConfig } from '../../../shared/config';
import { createServices, resetServices, type Services } from '../../../shared/services';
import { createTelemetry, noTelemetry, type Telemetry, type TelemetryEventName } from '../../../shared/telemetry';
import { verifySignature, SIGNATURE_HEADER, signPayload } from '../../../shared/webhooks';

/**
 * The whole app end to end for callback tests: a private Azurite (the real app's queue names are fixed, so a shared
 * one would let other test files' hosts take our messages), the Partner Center simulator on a stepped clock, a
 * billing receiver that verifies every signature, and the real app on the local host with telemetry recorded.
 */

export interface ReceivedCallback {
  at: number;
  verified: boolean;
  headers: Record<string, string | string[] | undefined>;
  raw: string;
  body: { eventId: string; event: string; upgradeId: string; customerId: string; status: string; [k: string]: unknown };
  answered: number;
}

/** Answers per customer: the listed statuses in turn, then 200. */
export class BillingReceiver {
  readonly received: ReceivedCallback[] = [];
  private readonly scripts = new Map<string, number[]>();
  private server: Server | undefined;
  url = '';

  constructor(private readonly secret: string) {}

  script(customerId: string, statuses: number[]): void {
    this.scripts.set(customerId.toLowerCase(), [...statuses]);
  }

  for(upgradeId: string): ReceivedCallback[] {
    return this.received.filter((r) => r.body.upgradeId === upgradeId);
  }

  async start(): Promise<void> {
    this.server = createServer((req, res) => {
      void this.read(req).then((raw) => {
        const verified = verifySignature(Buffer.from(raw, 'utf8'), header(req, SIGNATURE_HEADER), [this.secret]).ok;
        const body = JSON.parse(raw) as ReceivedCallback['body'];
        const script = this.scripts.get(String(body.customerId)) ?? [];
        const answered = verified ? (script.shift() ?? 200) : 401;
        this.received.push({ at: Date.now(), verified, headers: req.headers, raw, body, answered });
        res.writeHead(answered, { 'content-type': 'text/plain' }).end(answered < 300 ? 'ok' : 'no');
      });
    });
    await new Promise<void>((resolve) => this.server!.listen(0, '127.0.0.1', resolve));
    this.url = `http://127.0.0.1:${(this.server.address() as AddressInfo).port}/billing/upgrades?code=receiver-key`;
  }

  private read(req: IncomingMessage): Promise<string> {
    return new Promise((resolve, reject) => {
      const chunks: Buffer[] = [];
      req.on('data', (chunk: Buffer) => chunks.push(chunk));
      req.on('end', () => resolve(Buffer.concat(chunks).toString('utf8')));
      req.on('error', reject);
    });
  }

  async stop(): Promise<void> {
    const server = this.server;
    if (!server) return;
    server.closeAllConnections();
    await new Promise<void>((resolve) => server.close(() => resolve()));
  }
}

function header(req: IncomingMessage, name: string): string | undefined {
  const value = req.headers[name];
  return Array.isArray(value) ? value[0] : value;
}

export interface TelemetryItem {
  kind: 'event' | 'dependency' | 'exception';
  name: string;
  properties: Record<string, string>;
  measurements?: Record<string, number>;
  /** The whole item as text (for leak scans): name, properties, target, message, stack. */
  text: string;
}

/** Records every item and forwards it to the app's own telemetry (console lines, also captured in the leak test). */
export class TeeTelemetry implements Telemetry {
  readonly items: TelemetryItem[] = [];
  constructor(private readonly inner: Telemetry) {}

  events(name: TelemetryEventName): TelemetryItem[] {
    return this.items.filter((i) => i.kind === 'event' && i.name === name);
  }
  event(name: TelemetryEventName, properties: Record<string, string> = {}, measurements: Record<string, number> = {}) {
    this.items.push({ kind: 'event', name, properties, measurements, text: JSON.stringify([name, properties]) });
    this.inner.event(name, properties, measurements);
  }
  dependency(call: Parameters<Telemetry['dependency']>[0]): void {
    this.items.push({
      kind: 'dependency',
      name: call.name,
      properties: call.properties ?? {},
      text: JSON.stringify(call),
    });
    this.inner.dependency(call);
  }
  exception(error: Error, properties: Record<string, string> = {}): void {
    this.items.push({
      kind: 'exception',
      name: error.name,
      properties,
      text: JSON.stringify([error.name, error.message, error.stack, properties]),
    });
    this.inner.exception(error, properties);
  }
}

export interface HarnessOptions {
  customers: CustomerSpec[];
  callbackSecret: string;
  settings?: Record<string, string>;
  /** Secrets the simulator accepts (default: generated). */
  simulatorCredentials?: { clientSecret?: string; refreshToken?: string };
  /** Put in front of the simulator's token endpoint (the leak test records minted tokens there). */
  authorityHost?: (simulatorUrl: string) => Promise<string>;
  webhookSecret?: string;
  /** Forward telemetry to the app's console telemetry too (default: recorded only, keeping test output quiet). */
  consoleTelemetry?: boolean;
  log?: (line: string) => void;
  hostJson?: HostJsonOverrides;
}

export interface Harness {
  azurite: RunningAzurite;
  sim: RunningSimulator;
  clock: SteppedClock;
  receiver: BillingReceiver;
  host: LocalHost;
  logs: string[];
  telemetry: TeeTelemetry;
  services: Services;
  /** POST /api/upgrades on the host; returns the upgrade id. */
  startUpgrade(customerId: string): Promise<string>;
  /** POST /admin/functions/pollUpgrades (202, runs in the background), like an operator would. */
  triggerPoll(): Promise<void>;
  stop(): Promise<void>;
}

export const QUICK_QUEUES: HostJsonOverrides = {
  extensions: { queues: { maxPollingInterval: '00:00:00.200', visibilityTimeout: '00:00:00' } },
};

export async function startHarness(options: HarnessOptions): Promise<Harness> {
  const azurite = await startAzurite();
  // This file's process.env is its own (jest copies it per test file): the app and the host read this Azurite.
  process.env.AzureWebJobsStorage = azurite.connectionString;
  const clock = steppedClock(Date.now());
  const sim = await startSimulator({
    clock,
    scenario: {
      name: 'callbacks',
      durations: { pendingSeconds: 5, inProgressSeconds: 5 },
      customers: options.customers,
    },
    credentials: options.simulatorCredentials,
  });
  const receiver = new BillingReceiver(options.callbackSecret);
  await receiver.start();
  const logs: string[] = [];
  const authorityHost = options.authorityHost ? await options.authorityHost(sim.url) : sim.url;
  const host = await startLocalHost({
    port: 0,
    log: (line) => {
      logs.push(line);
      options.log?.(line);
    },
    hostJson: options.hostJson ?? QUICK_QUEUES,
    settings: {
      AzureWebJobsStorage: azurite.connectionString,
      TABLE_NAME_PREFIX: 'cb',
      ...appSettingsFor(sim),
      PARTNER_CENTER_AUTHORITY_HOST: authorityHost,
      PARTNER_CENTER_TIMEOUT_SECONDS: '5',
      KEY_VAULT_URL: '',
      WEBHOOK_SIGNING_SECRET: options.webhookSecret ?? '',
      CALLBACK_SIGNING_SECRET: options.callbackSecret,
      BILLING_CALLBACK_URL: receiver.url,
      CALLBACK_TIMEOUT_SECONDS: '5',
      CALLBACK_MAX_ATTEMPTS: '3',
      CALLBACK_RETRY_BASE_SECONDS: '1',
      // The timer never fires by itself during a test: runs are triggered through the admin API.
      POLL_SCHEDULE: '0 0 0 1 1 *',
      POLL_FIRST_DELAY_SECONDS: '0',
      POLL_MIN_INTERVAL_SECONDS: '1',
      POLL_MAX_INTERVAL_SECONDS: '2',
      APPLICATIONINSIGHTS_CONNECTION_STRING: '',
      ...options.settings,
    },
  });
  // The functions call getServices(): install the app's own services with telemetry recorded on top of its console
  // telemetry (built after the host put the settings into process.env).
  const config = loadConfig();
  const telemetry = new TeeTelemetry(options.consoleTelemetry ? createTelemetry(config) : noTelemetry);
  const services = createServices(config, { telemetry });
  resetServices(services);

  const startUpgrade = async (customerId: string): Promise<string> => {
    const body = JSON.stringify({ customerId, productFamily: 'Azure' });
    const headers: Record<string, string> = {
      'content-type': 'application/json',
      'idempotency-key': randomUUID(),
    };
    if (options.webhookSecret) headers[SIGNATURE_HEADER] = signPayload(body, options.webhookSecret);
    const response = await fetch(`${host.url}/api/upgrades`, { method: 'POST', headers, body });
    const text = await response.text();
    if (response.status !== 202) throw new Error(`POST /api/upgrades answered ${response.status}: ${text}`);
    return (JSON.parse(text) as { upgradeId: string }).upgradeId;
  };
  const triggerPoll = async (): Promise<void> => {
    const response = await fetch(`${host.url}/admin/functions/pollUpgrades`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: '{}',
    });
    if (response.status !== 202) throw new Error(`admin pollUpgrades answered ${response.status}`);
  };
  return {
    azurite,
    sim,
    clock,
    receiver,
    host,
    logs,
    telemetry,
    services,
    startUpgrade,
    triggerPoll,
    async stop() {
      await host.stop();
      resetServices();
      await Promise.all([receiver.stop(), sim.close()]);
      await azurite.stop();
    },
  };
}

/** A customer id for the simulator scenario (GUID, lower case). */
export function customerId(n: number): string {
  return `00000000-0000-4000-8000-${n.toString(16).padStart(12, '0')}`;
}
