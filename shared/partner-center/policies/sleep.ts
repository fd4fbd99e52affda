import type { PipelineRequest } from '@azure/core-rest-pipeline';

/** The pipeline's abort signal type (AbortSignal or a look-alike). */
export type SignalLike = NonNullable<PipelineRequest['abortSignal']>;

/** Waits `ms`; resolves false at once if the signal fires first (or has fired), true otherwise. */
export function sleep(ms: number, signal?: SignalLike): Promise<boolean> {
  if (signal?.aborted) return Promise.resolve(false);
  return new Promise((resolve) => {
    const onAbort = (): void => {
      clearTimeout(timer);
      resolve(false);
    };
    const timer = setTimeout(() => {
      signal?.removeEventListener('abort', onAbort);
      resolve(true);
    }, ms);
    signal?.addEventListener('abort', onAbort);
  });
}
