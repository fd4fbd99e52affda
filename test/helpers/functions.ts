import { HttpRequest, InvocationContext, type HttpRequestInit, type InvocationContextInit } from '@azure/functions';
import { signedHeaders, type SignOptions } from '../../dev/signing';

export interface CapturedLog {
  level: string;
  message: string;
}

/** An HttpRequest as the Functions host would build it. `body` objects are sent as JSON text. */
export function httpRequest(
  init: Omit<HttpRequestInit, 'body' | 'url'> & { url?: string; path?: string; body?: unknown },
): HttpRequest {
  const { body, path, url, ...rest } = init;
  const text = body === undefined ? undefined : typeof body === 'string' ? body : JSON.stringify(body);
  return new HttpRequest({
    method: 'GET',
    url: url ?? `http://localhost:7071${path ?? '/'}`,
    ...rest,
    ...(text === undefined ? {} : { body: { string: text } }),
  });
}

/**
 * A POST of `json` (as JSON text) to a webhook function at `path`, signed with `secret` as the billing system signs it
 * (a new webhook-id unless `sign` gives one).
 */
export function signedPost(path: string, json: unknown, secret: string, sign: SignOptions = {}): HttpRequest {
  const body = JSON.stringify(json);
  return httpRequest({
    method: 'POST',
    path,
    headers: { 'content-type': 'application/json', ...signedHeaders(body, secret, sign) },
    body,
  });
}

/** An InvocationContext whose log calls are captured for assertions. */
export function invocationContext(init: InvocationContextInit = {}): InvocationContext & { logs: CapturedLog[] } {
  const logs: CapturedLog[] = [];
  const context = new InvocationContext({
    functionName: 'test',
    invocationId: 'test-invocation',
    ...init,
    logHandler: (level, ...args) => logs.push({ level, message: args.map(String).join(' ') }),
  });
  return Object.assign(context, { logs });
}
