import { setTimeout as delay } from 'node:timers/promises';
import {
  isRestError,
  type PipelinePolicy,
  type PipelineRequest,
  type PipelineResponse,
} from '@azure/core-rest-pipeline';
import { retryAfterMs } from '../retry-after';
import { AttemptTimeoutError } from './attempt-timeout';

export const partnerCenterRetryPolicyName = 'partnerCenterRetryPolicy';

export interface RetryDelay {
  /** First backoff (before jitter); doubles each retry. */
  baseMs: number;
  /** Cap of one backoff. */
  maxMs: number;
}

export interface RetryEvent {
  attempt: number;
  delayMs: number;
  status?: number;
  errorCode?: string;
  retryAfterMs?: number;
  url: string;
}

export interface RetryPolicyOptions {
  /** Attempts per call, the first included (1 = no retry). */
  maxAttempts: number;
  retryDelay: RetryDelay;
  /** A Retry-After longer than this is not waited for: the throttled response goes back to the caller at once. */
  maxRetryAfterMs?: number;
  /** Requests whose 429 goes back to the caller at once, without a wait (the caller paces itself). */
  returnsThrottled?: (request: PipelineRequest) => boolean;
  /** Extra responses worth another attempt (the client adds "2xx with an unreadable body" for safe reads). */
  isRetryableResponse?: (response: PipelineResponse) => boolean;
  onRetry?: (event: RetryEvent) => void;
  /** Jitter source, [0, 1). */
  random?: () => number;
}

/** Connection-level failures a retry can cure (the node HTTP client reports them as RestError with these codes). */
const RETRYABLE_ERROR_CODES = new Set([
  'ECONNRESET',
  'ECONNREFUSED',
  'ECONNABORTED',
  'ETIMEDOUT',
  'ESOCKETTIMEDOUT',
  'EPIPE',
  'EAI_AGAIN',
  'ENOTFOUND',
  'ENETUNREACH',
  'EHOSTUNREACH',
  'UND_ERR_SOCKET',
  'REQUEST_SEND_ERROR',
  'PARSE_ERROR', // the body stream broke mid-way ("Error reading response as text")
]);

export function isRetryableStatus(status: number): boolean {
  return status === 408 || status === 429 || (status >= 500 && status !== 501 && status !== 505);
}

export function isRetryableTransportError(error: unknown): boolean {
  if (error instanceof AttemptTimeoutError) return true;
  return isRestError(error) && error.response === undefined && RETRYABLE_ERROR_CODES.has(error.code ?? '');
}

/** Exponential backoff with "equal jitter": half the capped exponential delay, plus a random part of the other half. */
export function backoffMs(retry: number, delay: RetryDelay, random: () => number = Math.random): number {
  const capped = Math.min(delay.maxMs, delay.baseMs * 2 ** Math.max(0, retry - 1));
  return Math.round(capped / 2 + random() * (capped / 2));
}

/**
 * Retries 408, 429 (unless `returnsThrottled` says the caller paces itself), 5xx, network failures and attempt
 * timeouts; nothing else. Waits Retry-After when the server sent one (never less), otherwise the jittered backoff.
 * Stops at `maxAttempts` or when the caller's signal fires, and then hands back the LAST response (or rethrows the last error) so the caller sees the real cause — e.g. a 429 with
 * its Retry-After. Written by hand because core's retryPolicy replaces that last outcome with a bare AbortError when
 * the deadline fires, and cannot refuse a wait longer than `maxRetryAfterMs`.
 */
export function partnerCenterRetryPolicy(options: RetryPolicyOptions): PipelinePolicy {
  const maxAttempts = Math.max(1, Math.floor(options.maxAttempts));
  const random = options.random ?? Math.random;
  return {
    name: partnerCenterRetryPolicyName,
    async sendRequest(request, next) {
      const signal = request.abortSignal;
      for (let attempt = 1; ; attempt++) {
        let response: PipelineResponse | undefined;
        let failure: unknown;
        try {
          response = await next(request);
        } catch (error) {
          if (signal?.aborted || !isRetryableTransportError(error)) throw error;
          failure = error;
        }
        if (response && !isRetryableStatus(response.status) && !options.isRetryableResponse?.(response)) {
          return response;
        }
        const done = (): PipelineResponse => {
          if (response) return response;
          throw failure;
        };
        if (attempt >= maxAttempts || signal?.aborted) return done();
        if (response?.status === 429 && options.returnsThrottled?.(request)) return done();
        const serverDelay = response ? retryAfterMs(response.headers, response.bodyAsText ?? undefined) : undefined;
        if (serverDelay !== undefined && serverDelay > (options.maxRetryAfterMs ?? Number.POSITIVE_INFINITY)) {
          return done();
        }
        const delayMs = serverDelay ?? backoffMs(attempt, options.retryDelay, random);
        options.onRetry?.({
          attempt,
          delayMs,
          status: response?.status,
          errorCode: failure === undefined ? undefined : errorCode(failure),
          retryAfterMs: serverDelay,
          url: request.url,
        });
        try {
          // The pipeline types its signal as a look-alike; Node's timers take any object with `aborted` and
          // `addEventListener`, and the callers pass real AbortSignals.
          await delay(delayMs, undefined, { signal: signal as AbortSignal | undefined });
        } catch {
          return done(); // the caller's signal fired while waiting
        }
      }
    },
  };
}

function errorCode(error: unknown): string {
  if (error instanceof AttemptTimeoutError) return 'ATTEMPT_TIMEOUT';
  return isRestError(error) ? (error.code ?? 'REST_ERROR') : 'UNKNOWN';
}
