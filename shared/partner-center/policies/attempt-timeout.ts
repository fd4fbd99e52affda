import type { PipelinePolicy } from '@azure/core-rest-pipeline';

export const attemptTimeoutPolicyName = 'attemptTimeoutPolicy';

/** One attempt took longer than its timeout (the retry policy may try again; the caller's deadline is separate). */
export class AttemptTimeoutError extends Error {
  override readonly name = 'AttemptTimeoutError';
  constructor(readonly timeoutMs: number) {
    super(`The attempt did not complete within ${timeoutMs} ms`);
  }
}

/**
 * Aborts one attempt after `timeoutMs`, body included, and reports it as AttemptTimeoutError — distinct from the
 * caller's own abort, which passes through untouched. Hand-written because the HTTP client's `request.timeout`
 * stops counting once headers arrive and, when it fires, throws the same AbortError as a caller abort.
 */
export function attemptTimeoutPolicy(timeoutMs: number): PipelinePolicy {
  return {
    name: attemptTimeoutPolicyName,
    async sendRequest(request, next) {
      const outer = request.abortSignal;
      const controller = new AbortController();
      const forward = (): void => controller.abort();
      if (outer?.aborted) controller.abort();
      outer?.addEventListener('abort', forward);
      let timedOut = false;
      const timer = setTimeout(() => {
        timedOut = true;
        controller.abort();
      }, timeoutMs);
      request.abortSignal = controller.signal;
      try {
        return await next(request);
      } catch (error) {
        if (timedOut && !outer?.aborted) throw new AttemptTimeoutError(timeoutMs);
        throw error;
      } finally {
        clearTimeout(timer);
        outer?.removeEventListener('abort', forward);
        request.abortSignal = outer;
      }
    },
  };
}
