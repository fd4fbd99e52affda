import { randomBytes } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';
import type { HttpResponseInit } from '@azure/functions';
import type { QueueClient } from '@azure/storage-queue';
import {
  generateScenario,
  steppedClock,
  type RunningSimulator,
  type Scenario,
  type SteppedClock,
  type UpgradeTruth,
} from '../../dev/simulator';
import { startStack, type BillingReceiver, type Stack, type StackTelemetry } from '../../dev/stack';
import { checkEligibility } from '../../functions/checkEligibility';
import { recordTrackingPoison } from '../../functions/recordPoisonMessage';
import { startTracking as startTrackingFunction } from '../../functions/startTracking';
import { startUpgrade } from '../../functions/startUpgrade';
import type { AppConfig } from '../../shared/config';
import { processCallbackMessage, type CallbackJobResult } from '../../shared/callbacks';
import { PartnerCenterClient, SecureAppModelCredential, type ProductUpgrades } from '../../shared/partner-center';
import type { CachedSecretStore, SecretStore } from '../../shared/secrets';
import type { Services } from '../../shared/services';
import { createQueueClient } from '../../shared/storage/clients';
import type { Tables } from '../../shared/storage/tables';
import type { Telemetry } from '../../shared/telemetry';
import {
  pollDueUpgrades,
  queueNotifier,
  queueTracker,
  RequestGate,
  type PollRunSummary,
  type TableSource,
  type UpgradeView,
} from '../../shared/tracking';
import { rankOf, type KnownStatus } from '../../shared/tracking/state';
import { httpRequest, invocationContext } from '../helpers/functions';
import { type Prng, prng } from './prng';

/**
 * The reliability rig, on the one local stack (`dev/stack.ts`, sharing the suite's Azurite): the real app's functions
 * called in-process (HTTP handlers with real HttpRequest objects, queue handlers fed by a small pump over real Azurite
 * queues, the poll run with the production options) against the Partner Center simulator over loopback HTTP on a
 * stepped clock, real Azurite tables under a unique prefix, and the stack's billing receiver (deliveries per event id,
 * a seeded fraction refused). Queue names are unique per rig, so rigs in parallel test
 * files never take each other's messages. Only time is compressed: Partner Center backoff is shortened and the poll
 * run's shared pause runs on a virtual clock (`virtualGate`), so a 30 s pause costs nothing but is still applied.
 */

/** `whsec_` secrets (Standard Webhooks), fixed so a failing seed replays with the same ones. */
export const SIGNING_SECRET = `whsec_${Buffer.from('reliability-webhook-secret-not-a-real-one').toString('base64')}`;
export const CALLBACK_SECRET = `whsec_${Buffer.from('reliability-callback-secret-not-a-real-one').toString('base64')}`;

/**
 * The billing system's pause before it retries a 503 (it is told Retry-After; compressed here). It models the caller,
 * it synchronises nothing: the simulator's rate limits refill in real time, so a caller that retried at once would
 * only meet them again.
 */
const CALLER_BACKOFF_MS = 250;

export interface RigOptions {
  label: string;
  scenario?: Scenario;
  /** A generated all-eligible scenario of this many customers (when no scenario is given). */
  customers?: number;
  seed?: number;
  settings?: Record<string, string>;
  /** Replaces the secret store (Key Vault cases); given the settings whose secret values it should hold. */
  secrets?: (settings: Record<string, string>) => CachedSecretStore;
  /** Wraps the tables every part of the app uses (crash points, delays, write counting). */
  wrapTables?: (tables: Tables) => Tables;
  /** Wraps the Partner Center client (crash points). */
  wrapPartnerCenter?: (client: ProductUpgrades) => ProductUpgrades;
  /** Wraps the queue clients (crash points on enqueue). */
  wrapQueue?: (queue: QueueClient) => QueueClient;
  /** Partner Center URL override (e.g. a proxy in front of the simulator). */
  partnerCenterUrl?: (simUrl: string) => Promise<string> | string;
  /** Billing receiver: probability of answering 503 (seeded). */
  receiverFailure?: number;
}

export interface WebhookResult {
  status: number;
  headers: Record<string, string>;
  body: Record<string, unknown> | undefined;
}

/**
 * A virtual monotonic clock for the poll run: real time plus whatever the run "slept". The run's shared throttle
 * pause and its rate slots cost no wall time, yet every pause is applied and measurable (`slept`).
 */
export function virtualGate(ratePerSecond: number): { gate: RequestGate; clock: () => number; slept: () => number } {
  let offset = 0;
  const clock = () => performance.now() + offset;
  const gate = new RequestGate(ratePerSecond, clock, (ms) => {
    offset += Math.max(0, ms);
    return Promise.resolve();
  });
  return { gate, clock, slept: () => offset };
}

export interface PumpOptions {
  /** Probability that a message is handled twice (at-least-once delivery). */
  duplicate?: number;
  /** Shuffle each received batch. */
  reorder?: boolean;
  random?: Prng;
  /** Dequeues before a message goes to the poison queue (the host's maxDequeueCount). */
  maxDequeueCount?: number;
}

export interface PumpStats {
  handled: number;
  failed: number;
  poisoned: number;
  duplicates: number;
}

interface RigQueues {
  tracking: QueueClient;
  trackingPoison: QueueClient;
  notifications: QueueClient;
  notifyPoison: QueueClient;
}

function queueName(label: string, suffix: string): string {
  return `${label.toLowerCase().replace(/[^a-z0-9]/g, '')}-${suffix}`.slice(0, 63);
}

/** The production client with shortened backoff (Retry-After is honoured as sent, up to 60 s). */
function partnerCenterClient(config: AppConfig, secrets: SecretStore, telemetry: Telemetry): PartnerCenterClient {
  const pc = config.partnerCenter;
  return new PartnerCenterClient({
    baseUrl: pc.apiUrl,
    credential: new SecureAppModelCredential({
      tenantId: pc.tenantId,
      clientId: pc.clientId,
      authorityHost: pc.authorityHost,
      secretStore: secrets,
      telemetry,
      retryDelay: { baseMs: 10, maxMs: 100 },
      attemptTimeoutMs: pc.attemptTimeoutMs,
    }),
    applicationName: pc.applicationName,
    attemptTimeoutMs: pc.attemptTimeoutMs,
    maxAttempts: pc.maxAttempts,
    retryDelay: { baseMs: 10, maxMs: 100 },
    telemetry,
  });
}

export class Rig {
  /** Highest status rank seen per upgrade across observations (regression check). */
  private readonly seenRank = new Map<string, number>();
  readonly regressions: string[] = [];
  /** Every poll run's summary, with the time its gate paused (virtual). */
  readonly runs: (PollRunSummary & { slept: number })[] = [];

  private constructor(
    readonly options: RigOptions,
    /** The stack the rig runs on (settings, services, simulator, receiver). */
    readonly stack: Stack,
    readonly clock: SteppedClock,
    readonly random: Prng,
    readonly queues: RigQueues,
  ) {}

  get sim(): RunningSimulator {
    return this.stack.sim;
  }
  get services(): Services {
    return this.stack.services;
  }
  get config(): AppConfig {
    return this.stack.config;
  }
  get telemetry(): StackTelemetry {
    return this.stack.telemetry;
  }
  get receiver(): BillingReceiver {
    return this.stack.receiver!;
  }
  /** The settings the app was configured with (what the host would put in process.env). */
  get settings(): Record<string, string> {
    return this.stack.settings;
  }

  static async start(options: RigOptions): Promise<Rig> {
    const storage = process.env.AzureWebJobsStorage;
    if (!storage) throw new Error('AzureWebJobsStorage is not set: run through the reliability project');
    const random = prng(options.seed ?? 1);
    const receiverRandom = random.fork();
    const failure = options.receiverFailure ?? 0;
    const clock = steppedClock(Date.now());
    const scenario =
      options.scenario ??
      generateScenario({
        customers: options.customers ?? 20,
        seed: options.seed ?? 1,
        mix: {
          eligible: 1,
          suspendedSubscriptions: 0,
          noAzureSubscriptions: 0,
          azurePartnerSharedServices: 0,
          boughtRecently: 0,
        },
        pendingSeconds: { min: 30, max: 120 },
        inProgressSeconds: { min: 120, max: 900 },
      });
    // Queue names are unique per rig: rigs in parallel test files never take each other's messages.
    const prefix = `${options.label}${randomBytes(3).toString('hex')}`;
    let queues: RigQueues | undefined;
    const stack = await startStack({
      storage,
      simulator: { clock, scenario: { ...scenario, seed: options.seed ?? 1 } },
      partnerCenterUrl: options.partnerCenterUrl,
      tablePrefix: prefix.replace(/[^A-Za-z0-9]/g, '').slice(0, 20),
      webhookSecret: SIGNING_SECRET,
      billing: { secret: CALLBACK_SECRET, answer: () => (receiverRandom.next() < failure ? 503 : 200) },
      settings: {
        PARTNER_CENTER_TIMEOUT_SECONDS: '2',
        PARTNER_CENTER_MAX_ATTEMPTS: '4',
        CALLBACK_RETRY_BASE_SECONDS: '0',
        CALLBACK_MAX_ATTEMPTS: '20',
        POLL_CONCURRENCY: '8',
        POLL_RATE_PER_SECOND: '1000',
        POLL_FIRST_DELAY_SECONDS: '0',
        POLL_MIN_INTERVAL_SECONDS: '60',
        POLL_MAX_INTERVAL_SECONDS: '1800',
        ...options.settings,
      },
      secrets: options.secrets,
      services: async ({ config, secrets, tables, telemetry }) => {
        const wrapQueue = options.wrapQueue ?? ((q: QueueClient) => q);
        const q = (name: string) => createQueueClient(config.storage, queueName(prefix, name));
        queues = {
          tracking: wrapQueue(q('track')),
          trackingPoison: q('track-poison'),
          notifications: wrapQueue(q('notify')),
          notifyPoison: q('notify-poison'),
        };
        for (const queue of Object.values(queues)) await queue.createIfNotExists();
        const client = partnerCenterClient(config, secrets, telemetry);
        return {
          tables: options.wrapTables ? options.wrapTables(tables) : tables,
          partnerCenter: options.wrapPartnerCenter ? options.wrapPartnerCenter(client) : client,
          queues: {
            upgradeTracking: queues.tracking,
            upgradeNotifications: queues.notifications,
            upgradeNotificationsPoison: queues.notifyPoison,
          },
        };
      },
    });
    return new Rig(options, stack, clock, random, queues!);
  }

  /** Installs this rig's services as the app's (function handlers call getServices()). */
  install(): void {
    this.stack.install();
  }

  /** A webhook through the real function handler (signed unless told otherwise). */
  async webhook(
    path: 'eligibility' | 'upgrades',
    body: string | object,
    options: {
      /** The webhook-id (signed with it); default a new one. */
      webhookId?: string;
      headers?: Record<string, string>;
      /** Signature time (unix seconds); default now. */
      signedAt?: number;
    } = {},
  ): Promise<WebhookResult> {
    this.install();
    const raw = typeof body === 'string' ? body : JSON.stringify(body);
    const headers: Record<string, string> = {
      'content-type': 'application/json',
      ...this.stack.signedHeaders(raw, { webhookId: options.webhookId, at: options.signedAt }),
      ...options.headers,
    };
    const request = httpRequest({ method: 'POST', path: `/api/${path}`, headers, body: raw });
    const handler = path === 'eligibility' ? checkEligibility : startUpgrade;
    return toResult(await handler(request, invocationContext({ functionName: path })));
  }

  /**
   * Starts an upgrade the way the billing system does: POST /api/upgrades with one webhook-id, retried on 503
   * (and on 409 request-in-progress) until a definite answer. Returns every status seen.
   */
  async startUpgradeWithRetries(
    customerId: string,
    maxTries = 30,
  ): Promise<{ final: WebhookResult; seen: number[]; refusals: WebhookResult[] }> {
    const key = `start-${customerId}`;
    const seen: number[] = [];
    const refusals: WebhookResult[] = [];
    for (let attempt = 0; attempt < maxTries; attempt++) {
      const result = await this.webhook('upgrades', { customerId, productFamily: 'Azure' }, { webhookId: key });
      seen.push(result.status);
      const inProgress =
        result.status === 409 && result.body?.type === 'urn:azure-plan-upgrades:problem:request-in-progress';
      if (result.status !== 503 && !inProgress) return { final: result, seen, refusals };
      refusals.push(result);
      if (process.env.RELIABILITY_DEBUG)
        console.log(`[reliability] start ${customerId}: ${JSON.stringify(result.body)}`);
      await sleep(CALLER_BACKOFF_MS);
    }
    throw new Error(`start-upgrade for ${customerId} still 503 after ${maxTries} tries: ${seen.join(',')}`);
  }

  /** Drains a queue through a handler, as the host would: delete on success, retry on throw, poison after N. */
  async pump(
    queue: QueueClient,
    poison: QueueClient,
    handler: (message: unknown, dequeueCount: number) => Promise<void>,
    options: PumpOptions = {},
  ): Promise<PumpStats> {
    const stats: PumpStats = { handled: 0, failed: 0, poisoned: 0, duplicates: 0 };
    const random = options.random ?? this.random;
    const maxDequeue = options.maxDequeueCount ?? 5;
    for (let idle = 0; idle < 2;) {
      const { receivedMessageItems: batch } = await queue.receiveMessages({
        numberOfMessages: 32,
        visibilityTimeout: 60,
      });
      if (batch.length === 0) {
        idle++;
        continue;
      }
      idle = 0;
      if (options.reorder) random.shuffle(batch);
      // the host hands a batch to handlers concurrently (batchSize 16 by default)
      await Promise.all(
        batch.map(async (item) => {
          const text = Buffer.from(item.messageText, 'base64').toString('utf8');
          let message: unknown;
          try {
            message = JSON.parse(text) as unknown;
          } catch {
            message = text; // the host hands non-JSON text to the handler as a string
          }
          const times = random.next() < (options.duplicate ?? 0) ? 2 : 1;
          stats.duplicates += times - 1;
          try {
            for (let i = 0; i < times; i++) await handler(message, item.dequeueCount);
            stats.handled++;
            await queue.deleteMessage(item.messageId, item.popReceipt);
          } catch {
            stats.failed++;
            if (item.dequeueCount >= maxDequeue) {
              await poison.sendMessage(item.messageText);
              await queue.deleteMessage(item.messageId, item.popReceipt);
              stats.poisoned++;
            } else {
              await queue.updateMessage(item.messageId, item.popReceipt, undefined, 0);
            }
          }
        }),
      );
    }
    return stats;
  }

  /** The startTracking queue trigger, then its poison handler for what it gave up on. */
  async pumpTracking(options: PumpOptions = {}): Promise<PumpStats> {
    this.install();
    const stats = await this.pump(
      this.queues.tracking,
      this.queues.trackingPoison,
      (message, dequeueCount) =>
        startTrackingFunction(
          message,
          invocationContext({ functionName: 'startTracking', triggerMetadata: { dequeueCount } }),
        ),
      options,
    );
    await this.pump(this.queues.trackingPoison, this.queues.trackingPoison, (message) =>
      recordTrackingPoison(message, invocationContext({ functionName: 'recordTrackingPoison', triggerMetadata: {} })),
    );
    return stats;
  }

  /** The billing-callback job over this rig's queues (the function's own poison queue name is fixed, so not used). */
  readonly callbackResults: CallbackJobResult[] = [];
  async pumpNotifications(options: PumpOptions = {}): Promise<PumpStats> {
    this.install();
    return this.pump(
      this.queues.notifications,
      this.queues.notifyPoison,
      async (message) => {
        const result = await processCallbackMessage(message, {
          tables: this.services.tables,
          tracking: this.services.tracking,
          secrets: this.services.secrets,
          telemetry: this.services.telemetry,
          config: this.services.config,
          queue: this.services.queues.upgradeNotifications,
          poisonQueue: this.queues.notifyPoison,
        });
        this.callbackResults.push(result);
      },
      options,
    );
  }

  /** Keeps the simulator's clock at or ahead of real time (rows are stamped with Date.now). */
  syncClock(): void {
    if (this.clock.now() < Date.now()) this.clock.set(Date.now());
  }

  /** One poll run exactly as the timer function runs it, at the simulator's time, on a virtual gate clock. */
  async poll(
    overrides: { store?: Services['tracking']; tables?: TableSource } = {},
  ): Promise<PollRunSummary & { slept: number }> {
    this.syncClock();
    const virtual = virtualGate(this.config.poll.ratePerSecond);
    const summary = await pollDueUpgrades({
      store: overrides.store ?? this.services.tracking,
      partnerCenter: this.services.partnerCenter,
      config: this.config.poll,
      telemetry: this.telemetry,
      notify: queueNotifier(this.services.queues.upgradeNotifications),
      resend: queueTracker(this.services.queues.upgradeTracking),
      now: () => this.clock.now(),
      gate: virtual.gate,
      clock: virtual.clock,
    });
    const result = { ...summary, slept: virtual.slept() };
    this.runs.push(result);
    return result;
  }

  /** Our view of every upgrade the simulator knows, recording any status regression seen so far. */
  async observe(): Promise<Map<string, UpgradeView | undefined>> {
    const views = new Map<string, UpgradeView | undefined>();
    const truths = this.sim.state.listUpgrades();
    for (let i = 0; i < truths.length; i += 32) {
      const chunk = truths.slice(i, i + 32);
      const got = await Promise.all(chunk.map((t) => this.services.tracking.getUpgrade(t.id.toLowerCase())));
      chunk.forEach((t, j) => views.set(t.id.toLowerCase(), got[j]));
    }
    for (const [id, view] of views) {
      if (!view) continue;
      const rank = rankOf(view.status as KnownStatus);
      const before = this.seenRank.get(id) ?? -1;
      if (rank < before) this.regressions.push(`${id}: ${view.status} after a higher status`);
      this.seenRank.set(id, Math.max(rank, before));
    }
    return views;
  }

  /**
   * Advances time, polls and delivers callbacks (and tracking messages a run re-sent) until every upgrade is final in
   * our tables and the simulator, or `maxRounds` passes. Faults stay as set: runs that fail are simply followed by the
   * next one (the timer's way).
   */
  async runToEnd(maxRounds = 12, stepMs = 31 * 60_000): Promise<{ rounds: number; polls: PollRunSummary[] }> {
    const polls: PollRunSummary[] = [];
    for (let round = 1; round <= maxRounds; round++) {
      try {
        polls.push(await this.poll());
      } catch {
        // a run that fails as a whole (storage down) is retried by the next tick
      }
      await this.pumpTracking();
      await this.pumpNotifications();
      const views = await this.observe();
      const truths = this.sim.state.listUpgrades();
      const done = truths.every((t) => {
        const view = views.get(t.id.toLowerCase());
        return (
          (t.status === 'Completed' || t.status === 'Failed') && view?.status === t.status && view.scheduleKey === ''
        );
      });
      if (done) return { rounds: round, polls };
      this.clock.advance(stepMs);
    }
    return { rounds: maxRounds, polls };
  }

  /**
   * For large populations: the same loop as `runToEnd`, but "done" is read from the runs themselves (each step is
   * longer than the longest poll interval, so every unfinished upgrade is due in every run): a run that found
   * nothing due, after the simulator has finished everything, ends it. Faults stay on throughout.
   */
  async runUntilQuiet(
    maxRounds = 20,
    stepMs = 31 * 60_000,
    pump: PumpOptions = {},
  ): Promise<{ rounds: number; polls: PollRunSummary[] }> {
    const polls: PollRunSummary[] = [];
    for (let round = 1; round <= maxRounds; round++) {
      let summary: PollRunSummary | undefined;
      try {
        summary = await this.poll();
        polls.push(summary);
      } catch {
        // the next tick runs again
      }
      await this.pumpTracking(pump);
      await this.pumpNotifications(pump);
      if (process.env.RELIABILITY_DEBUG) console.log(`[reliability] round ${round}: ${JSON.stringify(summary)}`);
      const simDone = this.sim.state.listUpgrades().every((t) => t.status === 'Completed' || t.status === 'Failed');
      const quiet = summary && summary.due === 0 && summary.errors === 0 && summary.recovered === 0;
      if (simDone && quiet) return { rounds: round, polls };
      this.clock.advance(stepMs);
    }
    return { rounds: maxRounds, polls };
  }

  /** Differences between our tables and the simulator's ground truth (empty = agree). */
  async truthDiff(): Promise<string[]> {
    const problems: string[] = [];
    const views = await this.observe();
    const truths = this.sim.state.listUpgrades();
    const perCustomer = new Map<string, UpgradeTruth[]>();
    for (const t of truths) perCustomer.set(t.customerId, [...(perCustomer.get(t.customerId) ?? []), t]);
    for (const [customerId, list] of perCustomer) {
      if (list.length > 1) problems.push(`customer ${customerId}: ${list.length} upgrades created in Partner Center`);
    }
    for (const truth of truths) {
      const view = views.get(truth.id.toLowerCase());
      if (!view) {
        problems.push(`upgrade ${truth.id} (${truth.status}) is not tracked: lost`);
        continue;
      }
      if (view.status !== truth.status)
        problems.push(`upgrade ${truth.id}: ours ${view.status}, truth ${truth.status}`);
      const ranks = view.history.map((h) => rankOf(h.status as KnownStatus));
      if (ranks.some((r, i) => i > 0 && r <= ranks[i - 1]))
        problems.push(`upgrade ${truth.id}: history not forward-only`);
    }
    problems.push(...this.regressions);
    return problems;
  }

  /** Every final upgrade's callback delivered exactly once (2xx) by event id, and nothing else delivered. */
  callbackDiff(views: Map<string, UpgradeView | undefined>): string[] {
    const problems: string[] = [];
    const delivered = this.receiver.delivered();
    const eventsByUpgrade = new Map<string, Set<string>>();
    for (const { answered, body } of this.receiver.received) {
      if (answered >= 300) continue;
      const events = eventsByUpgrade.get(body.upgradeId) ?? new Set<string>();
      events.add(body.eventId);
      eventsByUpgrade.set(body.upgradeId, events);
    }
    const expected = new Set<string>();
    for (const [id, view] of views) {
      if (!view || !['Completed', 'Failed'].includes(view.status)) continue;
      const events = [...(eventsByUpgrade.get(id) ?? [])];
      if (events.length !== 1) problems.push(`upgrade ${id}: ${events.length} distinct events delivered`);
      for (const e of events) expected.add(e);
    }
    for (const [eventId, count] of delivered) {
      if (count !== 1) problems.push(`event ${eventId}: delivered ${count} times`);
      if (!expected.has(eventId)) problems.push(`event ${eventId}: delivered for no final upgrade`);
    }
    return problems;
  }

  async stop(): Promise<void> {
    await this.stack.stop();
  }
}

function toResult(response: HttpResponseInit): WebhookResult {
  const headers: Record<string, string> = {};
  const raw = response.headers;
  if (raw) {
    const entries: [string, string][] =
      raw instanceof Headers ? [...raw.entries()] : Array.isArray(raw) ? raw : Object.entries(raw);
    for (const [name, value] of entries) headers[name.toLowerCase()] = String(value);
  }
  let body: Record<string, unknown> | undefined;
  if (response.jsonBody !== undefined) body = response.jsonBody as Record<string, unknown>;
  else if (typeof response.body === 'string' && response.body !== '') {
    try {
      body = JSON.parse(response.body) as Record<string, unknown>;
    } catch {
      body = { text: response.body };
    }
  }
  return { status: response.status ?? 200, headers, body };
}

export function customerIds(rig: Rig): string[] {
  return rig.sim.scenario.customers.map((c) => c.id.toLowerCase());
}
