import { httpsOrLoopbackProblem } from '../net/urls';
import type { UpgradeLineItem } from '../partner-center/types';
import type { UpgradeEvent } from '../tracking/records';
import { appVersion } from '../version';
import { signWebhook } from '../webhooks/signing';

/**
 * Billing callbacks over HTTP: one POST of an upgrade's final result to `BILLING_CALLBACK_URL`, signed as Standard
 * Webhooks sign (`webhook-id` is the event id, one `v1` signature per secret), its answer
 * classified, URLs redacted. One attempt per call: retries with growing delays belong to the callback job (delayed
 * copies of the queue message), so this is a plain `fetch` rather than an SDK pipeline with its own retry policy;
 * `fetchImpl` lets tests inject faults.
 */
export interface CallbackPayload {
  eventId: string;
  event: UpgradeEvent;
  upgradeId: string;
  customerId: string;
  status: string;
  lineItems: readonly UpgradeLineItem[];
  completedAt: string;
  /** The fleet wave that started the upgrade, when one did. */
  waveId?: string;
}

export type DeliveryOutcome = 'delivered' | 'rejected' | 'retry';

export interface DeliveryResult {
  outcome: DeliveryOutcome;
  /** The receiver's HTTP status, when it answered. */
  status?: number;
  /** Why it was not delivered: value-free (no secret, no URL query). */
  error?: string;
  durationMs: number;
}

export interface DeliverCallbackOptions {
  url: string;
  payload: CallbackPayload;
  /** `CALLBACK_SIGNING_SECRET` as a list of `whsec_` secrets: several during a rotation (one `v1` each). */
  secrets: readonly string[];
  timeoutMs: number;
  fetchImpl?: typeof fetch;
}

/** Origin and path only: a callback URL may carry a key in its query string. */
export function redactUrl(url: string): string {
  try {
    const parsed = new URL(url);
    return `${parsed.origin}${parsed.pathname}`;
  } catch {
    return '(invalid URL)';
  }
}

/** 2xx delivered; 408, 429 and 5xx retry; 3xx (never followed) and other 4xx are final rejections. */
export function classifyStatus(status: number): DeliveryOutcome {
  if (status >= 200 && status < 300) return 'delivered';
  if (status === 408 || status === 429 || status >= 500) return 'retry';
  return 'rejected';
}

function networkReason(error: unknown, timeoutMs: number): string {
  // By name, not instanceof: the abort reason is a DOMException, which need not be an Error of this realm.
  const name = (error as { name?: unknown } | undefined)?.name;
  if (name === 'TimeoutError' || name === 'AbortError') {
    return `no answer within ${timeoutMs} ms`;
  }
  const cause = (error as { cause?: { code?: unknown } } | undefined)?.cause;
  const code = typeof cause?.code === 'string' ? cause.code : undefined;
  return code ? `network error ${code}` : 'network error';
}

function redirectTarget(location: string | null, base: string): string {
  if (!location) return '';
  try {
    return ` to ${redactUrl(new URL(location, base).toString())}`;
  } catch {
    return '';
  }
}

export async function deliverCallback(options: DeliverCallbackOptions): Promise<DeliveryResult> {
  const started = performance.now();
  const done = (result: Omit<DeliveryResult, 'durationMs'>): DeliveryResult => ({
    ...result,
    durationMs: Math.round(performance.now() - started),
  });
  const urlProblem = httpsOrLoopbackProblem(options.url);
  if (urlProblem) return done({ outcome: 'rejected', error: `the callback URL ${urlProblem}` });
  const secrets = options.secrets.filter((s) => s.length > 0);
  if (secrets.length === 0) {
    return done({
      outcome: 'rejected',
      error: 'CALLBACK_SIGNING_SECRET is not set: callbacks are never sent unsigned',
    });
  }

  const body = JSON.stringify(options.payload);
  const fetchImpl = options.fetchImpl ?? fetch;
  let response: Response;
  try {
    response = await fetchImpl(options.url, {
      method: 'POST',
      redirect: 'manual',
      signal: AbortSignal.timeout(options.timeoutMs),
      headers: {
        'content-type': 'application/json',
        'user-agent': `azure-plan-upgrades/${appVersion()}`,
        // Signed now by the system clock: the receiver checks the timestamp against its own.
        ...signWebhook(secrets, options.payload.eventId, body),
      },
      body,
    });
  } catch (error) {
    return done({ outcome: 'retry', error: networkReason(error, options.timeoutMs) });
  }
  // The body is not needed; cancelling frees the connection.
  await response.body?.cancel().catch(() => undefined);
  const { status } = response;
  const outcome = classifyStatus(status);
  if (outcome === 'delivered') return done({ outcome, status });
  if (status >= 300 && status < 400) {
    const target = redirectTarget(response.headers.get('location'), options.url);
    return done({ outcome: 'rejected', status, error: `HTTP ${status}: redirect${target} not followed` });
  }
  return done({ outcome, status, error: `HTTP ${status} from ${redactUrl(options.url)}` });
}
