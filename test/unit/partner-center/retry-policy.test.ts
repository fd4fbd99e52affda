import {
  RestError,
  createHttpHeaders,
  createPipelineRequest,
  type PipelineRequest,
  type PipelineResponse,
  type SendRequest,
} from '@azure/core-rest-pipeline';
import fc from 'fast-check';
import { AttemptTimeoutError } from '../../../shared/partner-center/policies/attempt-timeout';
import {
  backoffMs,
  partnerCenterRetryPolicy,
  type RetryEvent,
  type RetryPolicyOptions,
} from '../../../shared/partner-center/policies/retry';

type Outcome = number | { status: number; headers?: Record<string, string>; body?: string } | Error;

/** A `next` that plays a script of outcomes (status codes, responses or thrown errors) and records each call. */
function script(outcomes: Outcome[]): SendRequest & { calls: number; times: number[] } {
  const send = Object.assign(
    (request: PipelineRequest): Promise<PipelineResponse> => {
      send.times.push(Date.now());
      const outcome = outcomes[Math.min(send.calls++, outcomes.length - 1)];
      if (outcome instanceof Error) return Promise.reject(outcome);
      const spec = typeof outcome === 'number' ? { status: outcome } : outcome;
      return Promise.resolve({
        status: spec.status,
        headers: createHttpHeaders(spec.headers ?? {}),
        bodyAsText: spec.body,
        request,
      });
    },
    { calls: 0, times: [] as number[] },
  );
  return send;
}

function run(outcomes: Outcome[], options: Partial<RetryPolicyOptions> = {}, signal?: AbortSignal) {
  const next = script(outcomes);
  const events: RetryEvent[] = [];
  const policy = partnerCenterRetryPolicy({
    maxAttempts: 4,
    retryDelay: { baseMs: 5, maxMs: 20 },
    onRetry: (event) => events.push(event),
    ...options,
  });
  const request = createPipelineRequest({ url: 'http://127.0.0.1/v1/productUpgrades', abortSignal: signal });
  return { next, events, result: policy.sendRequest(request, next) };
}

const networkError = (code: string) => new RestError(`socket ${code}`, { code });

describe('partnerCenterRetryPolicy', () => {
  it('hands a 429 straight back when returnsThrottled says the caller paces itself; other failures still retry', async () => {
    const throttled = { status: 429, headers: { 'Retry-After': '1' } };
    const paced = run([throttled, 200], { returnsThrottled: () => true });
    expect((await paced.result).status).toBe(429);
    expect(paced.next.calls).toBe(1);
    expect(paced.events).toHaveLength(0);

    const stillRetried = run([503, 200], { returnsThrottled: () => true });
    expect((await stillRetried.result).status).toBe(200);
    expect(stillRetried.next.calls).toBe(2);

    const notPaced = run([{ status: 429, headers: { 'Retry-After': '0' } }, 200], { returnsThrottled: () => false });
    expect((await notPaced.result).status).toBe(200);
    expect(notPaced.next.calls).toBe(2);
  });

  it.each([408, 429, 500, 502, 503, 504])('retries %s and returns the success', async (status) => {
    const { next, result } = run([status, 200]);
    expect((await result).status).toBe(200);
    expect(next.calls).toBe(2);
  });

  it.each([400, 401, 403, 404, 409, 412, 501])('never retries %s', async (status) => {
    const { next, result } = run([status, 200]);
    expect((await result).status).toBe(status);
    expect(next.calls).toBe(1);
  });

  it.each(['ECONNRESET', 'ECONNREFUSED', 'ETIMEDOUT', 'REQUEST_SEND_ERROR'])(
    'retries the network error %s',
    async (code) => {
      const { next, result } = run([networkError(code), 200]);
      expect((await result).status).toBe(200);
      expect(next.calls).toBe(2);
    },
  );

  it('retries an attempt timeout', async () => {
    const { next, result } = run([new AttemptTimeoutError(10), 200]);
    expect((await result).status).toBe(200);
    expect(next.calls).toBe(2);
  });

  it('does not retry other errors', async () => {
    const { next, result } = run([new TypeError('bug'), 200]);
    await expect(result).rejects.toThrow('bug');
    expect(next.calls).toBe(1);
  });

  it('stops at maxAttempts and returns the last response', async () => {
    const { next, result, events } = run([503], { maxAttempts: 3 });
    expect((await result).status).toBe(503);
    expect(next.calls).toBe(3);
    expect(events.map((e) => e.attempt)).toEqual([1, 2]);
  });

  it('stops at maxAttempts and rethrows the last network error', async () => {
    const { next, result } = run([networkError('ECONNRESET')], { maxAttempts: 2 });
    await expect(result).rejects.toMatchObject({ code: 'ECONNRESET' });
    expect(next.calls).toBe(2);
  });

  it('waits at least Retry-After (seconds)', async () => {
    const { next, result, events } = run([{ status: 429, headers: { 'Retry-After': '1' } }, 200]);
    expect((await result).status).toBe(200);
    expect(next.times[1] - next.times[0]).toBeGreaterThanOrEqual(990);
    expect(events[0]).toMatchObject({ status: 429, retryAfterMs: 1000, delayMs: 1000 });
  });

  it('hands a Retry-After longer than maxRetryAfterMs straight back to the caller', async () => {
    const { next, result } = run([{ status: 429, headers: { 'Retry-After': '57' } }, 200], { maxRetryAfterMs: 10_000 });
    const response = await result;
    expect(response.status).toBe(429);
    expect(next.calls).toBe(1);
  });

  it("stops waiting when the caller's deadline fires and returns the last response (with its Retry-After)", async () => {
    // Told to wait 50 s: a policy that waited it out past the caller's deadline would outlast the test.
    const { next, result } = run(
      [{ status: 429, headers: { 'Retry-After': '50' } }, 200],
      { maxRetryAfterMs: 60_000 },
      AbortSignal.timeout(100),
    );
    const response = await result;
    expect(response.status).toBe(429);
    expect(response.headers.get('retry-after')).toBe('50');
    expect(next.calls).toBe(1);
  });

  it('does not start another attempt once the caller aborted', async () => {
    const controller = new AbortController();
    const abortDuringAttempt: SendRequest = (request) => {
      controller.abort();
      return Promise.resolve({ status: 503, headers: createHttpHeaders(), request });
    };
    const policy = partnerCenterRetryPolicy({ maxAttempts: 5, retryDelay: { baseMs: 1, maxMs: 1 } });
    const request = createPipelineRequest({ url: 'http://127.0.0.1/', abortSignal: controller.signal });
    expect((await policy.sendRequest(request, abortDuringAttempt)).status).toBe(503);
  });

  it('retries a response the caller marks retryable (an unreadable 200)', async () => {
    const { next, result } = run(
      [
        { status: 200, body: '{"trunc' },
        { status: 200, body: '{}' },
      ],
      {
        isRetryableResponse: (r) => r.bodyAsText === '{"trunc',
      },
    );
    expect((await result).bodyAsText).toBe('{}');
    expect(next.calls).toBe(2);
  });
});

describe('backoff', () => {
  it('grows exponentially, stays within [capped/2, capped] and never exceeds maxMs', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 1, max: 30 }),
        fc.integer({ min: 1, max: 5000 }),
        fc.integer({ min: 1, max: 120_000 }),
        fc.double({ min: 0, max: 0.999999, noNaN: true }),
        (retry, baseMs, maxMs, random) => {
          const capped = Math.min(maxMs, baseMs * 2 ** (retry - 1));
          const delay = backoffMs(retry, { baseMs, maxMs }, () => random);
          return delay >= Math.floor(capped / 2) && delay <= Math.ceil(capped) && delay <= maxMs;
        },
      ),
    );
  });

  it('is jittered', () => {
    const delays = new Set(Array.from({ length: 20 }, () => backoffMs(3, { baseMs: 1000, maxMs: 30_000 })));
    expect(delays.size).toBeGreaterThan(1);
  });
});
