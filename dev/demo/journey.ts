import { setTimeout as sleep } from 'node:timers/promises';
import { newWebhookId } from '../signing';
import type { TrackedUpgrade } from './ground-truth';

/**
 * The whole job as the billing system and an operator see it, over real HTTP only: eligibility for every customer
 * through the webhook, an upgrade started for each eligible one, then poll runs (through the local host's admin
 * API) until every upgrade the app tracks is final. Shared by `npm run demo` and the end-to-end test.
 */

export interface JourneyOptions {
  /** Base URL of the HTTP functions, e.g. http://localhost:7071/api */
  apiUrl: string;
  customerIds: readonly string[];
  /** One poll run, resolved when it has finished. */
  runPoll: () => Promise<unknown>;
  /** The headers that sign a webhook body as this webhook-id (the stack's `signedHeaders`). */
  sign: (rawBody: string, options: { webhookId: string }) => Record<string, string>;
  /** Webhook calls in flight at once (the billing system's parallelism). */
  concurrency?: number;
  /** Give up polling after this long (real milliseconds). */
  pollDeadlineMs?: number;
  /** Pause between poll runs (real milliseconds). */
  pollPauseMs?: number;
  /**
   * Also run the poller while upgrades are being started, as the timer would, so upgrades are observed soon after
   * they are created (Pending and InProgress show in their history, not only the final status).
   */
  pollWhileStarting?: boolean;
  log?: (line: string) => void;
}

export interface EligibilityAnswer {
  isEligible: boolean;
  reason?: string;
  upgradeId?: string;
}

export interface JourneyResult {
  eligibility: Map<string, EligibilityAnswer>;
  /** customer id → upgrade id, for every 202 (or 409 naming an existing upgrade). */
  started: Map<string, string>;
  /** Upgrade id → what the read API answers, for every upgrade listed under the customers. */
  tracked: Map<string, TrackedUpgrade>;
  pollRuns: number;
  /** Webhook answers that asked to retry (503 / 409 in progress) and were retried after Retry-After. */
  retriedCalls: number;
  allFinal: boolean;
  durationsMs: { eligibility: number; start: number; polling: number };
}

interface HttpAnswer {
  status: number;
  headers: Headers;
  body: unknown;
}

const MAX_RETRIES = 8;
const MAX_RETRY_WAIT_MS = 5_000;

/** Runs `work` over `items` with at most `limit` in flight. */
export async function mapLimited<T, R>(
  items: readonly T[],
  limit: number,
  work: (item: T) => Promise<R>,
): Promise<R[]> {
  const results: R[] = new Array<R>(items.length);
  let next = 0;
  const worker = async (): Promise<void> => {
    while (next < items.length) {
      const index = next++;
      results[index] = await work(items[index]);
    }
  };
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, worker));
  return results;
}

export async function runJourney(options: JourneyOptions): Promise<JourneyResult> {
  const log = options.log ?? (() => undefined);
  const concurrency = options.concurrency ?? 8;
  let retriedCalls = 0;

  /**
   * What a well-behaved billing system does: retry 503 and 409-in-progress after Retry-After, a few times, with the
   * same webhook-id (signed afresh each time, as Standard Webhooks senders retry).
   */
  async function send(method: 'GET' | 'POST', path: string, json?: unknown): Promise<HttpAnswer> {
    const body = json === undefined ? undefined : JSON.stringify(json);
    const webhookId = newWebhookId();
    for (let attempt = 0; ; attempt++) {
      const headers: Record<string, string> = {};
      if (body !== undefined) {
        Object.assign(headers, { 'content-type': 'application/json' }, options.sign(body, { webhookId }));
      }
      const response = await fetch(`${options.apiUrl}${path}`, { method, headers, body });
      const text = await response.text();
      const answer: HttpAnswer = {
        status: response.status,
        headers: response.headers,
        body: text === '' ? undefined : (JSON.parse(text) as unknown),
      };
      const inProgress =
        response.status === 409 &&
        (answer.body as { type?: string } | undefined)?.type?.endsWith('request-in-progress');
      if ((response.status !== 503 && !inProgress) || attempt >= MAX_RETRIES) return answer;
      retriedCalls++;
      const retryAfter = Number(response.headers.get('retry-after') ?? '1');
      await sleep(Math.min(MAX_RETRY_WAIT_MS, (Number.isFinite(retryAfter) ? retryAfter : 1) * 1000));
    }
  }

  const unexpected = (what: string, answer: HttpAnswer): Error =>
    new Error(`${what}: unexpected HTTP ${answer.status} ${JSON.stringify(answer.body)}`);

  // 1. Eligibility through the webhook, for every customer.
  const t0 = Date.now();
  const eligibility = new Map<string, EligibilityAnswer>();
  await mapLimited(options.customerIds, concurrency, async (customerId) => {
    const answer = await send('POST', '/eligibility', { customerId });
    if (answer.status !== 200) throw unexpected(`eligibility of ${customerId}`, answer);
    eligibility.set(customerId, answer.body as EligibilityAnswer);
  });
  log(`eligibility: ${eligibility.size} customers checked`);

  // 2. An upgrade for every eligible customer.
  const t1 = Date.now();
  const started = new Map<string, string>();
  const eligibleIds = options.customerIds.filter((id) => eligibility.get(id)?.isEligible);
  let pollRuns = 0;
  let starting = true;
  const background = (async () => {
    while (options.pollWhileStarting && starting) {
      await options.runPoll();
      pollRuns++;
      await sleep(options.pollPauseMs ?? 250);
    }
  })();
  await mapLimited(eligibleIds, concurrency, async (customerId) => {
    const answer = await send('POST', '/upgrades', { customerId });
    const upgradeId = (answer.body as { upgradeId?: string } | undefined)?.upgradeId;
    if ((answer.status !== 202 && answer.status !== 409) || !upgradeId) {
      throw unexpected(`start of ${customerId}`, answer);
    }
    started.set(customerId, upgradeId);
  }).finally(() => (starting = false));
  await background;
  log(`upgrades: ${started.size} started${pollRuns > 0 ? ` (${pollRuns} poll runs meanwhile)` : ''}`);

  // 3. Poll runs until every started upgrade is final, as the read API tells.
  const t2 = Date.now();
  const deadline = t2 + (options.pollDeadlineMs ?? 45_000);
  const open = new Set(started.values());
  while (open.size > 0 && Date.now() < deadline) {
    await options.runPoll();
    pollRuns++;
    await mapLimited([...open], concurrency * 2, async (upgradeId) => {
      const answer = await send('GET', `/upgrades/${upgradeId}`);
      if (answer.status === 200 && (answer.body as TrackedUpgrade).isFinal) open.delete(upgradeId);
    });
    log(`poll run ${pollRuns}: ${started.size - open.size} of ${started.size} upgrades final`);
    if (open.size > 0) await sleep(options.pollPauseMs ?? 250);
  }
  const t3 = Date.now();

  // 4. What the app tracks: every upgrade listed under every customer (paged to the end), in detail.
  const trackedIds = new Set<string>();
  await mapLimited(options.customerIds, concurrency * 2, async (customerId) => {
    let token: string | undefined;
    do {
      const query = `pageSize=100${token ? `&continuationToken=${encodeURIComponent(token)}` : ''}`;
      const answer = await send('GET', `/customers/${customerId}/upgrades?${query}`);
      if (answer.status === 404) return;
      if (answer.status !== 200) throw unexpected(`upgrades of ${customerId}`, answer);
      const page = answer.body as { items: { upgradeId: string }[]; continuationToken?: string };
      for (const item of page.items) trackedIds.add(item.upgradeId);
      token = page.continuationToken;
    } while (token);
  });
  const tracked = new Map<string, TrackedUpgrade>();
  await mapLimited([...trackedIds], concurrency * 2, async (upgradeId) => {
    const answer = await send('GET', `/upgrades/${upgradeId}`);
    if (answer.status !== 200) throw unexpected(`upgrade ${upgradeId}`, answer);
    tracked.set(upgradeId, answer.body as TrackedUpgrade);
  });

  return {
    eligibility,
    started,
    tracked,
    pollRuns,
    retriedCalls,
    allFinal: open.size === 0,
    durationsMs: { eligibility: t1 - t0, start: t2 - t1, polling: t3 - t2 },
  };
}
