import type { IncomingMessage, ServerResponse } from 'node:http';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { HttpRequest, HttpResponse } from '@azure/functions';
import type { HttpRegistration } from './registry';

/**
 * The HTTP side of the local host: route templates, the request a function gets, the response it returns, and the
 * admin API's request body. Route templates are read as far as the app writes them: literal segments (matched
 * case-insensitively) and `{name}` parameters. Any other template syntax puts the function in error rather than route wrongly.
 */

type Segment = { literal: string } | { param: string };

export interface HttpRoute {
  registration: HttpRegistration;
  template: string;
  segments: Segment[];
  /** Upper-case methods; empty = every method (the Functions default when `methods` is omitted). */
  methods: string[];
}

export function compileRoute(registration: HttpRegistration): HttpRoute {
  const template = registration.options.route ?? registration.name;
  const segments = template
    .replace(/^\/+|\/+$/g, '')
    .split('/')
    .map((part): Segment => {
      const param = /^\{([A-Za-z_]\w*)\}$/.exec(part);
      if (param) return { param: param[1] };
      if (part === '' || /[{}]/.test(part)) {
        throw new Error(
          `${registration.name}: route "${template}" is not read by the local host (literal segments and {name} only)`,
        );
      }
      return { literal: part.toLowerCase() };
    });
  return {
    registration,
    template,
    segments,
    methods: (registration.options.methods ?? []).map((m) => m.toUpperCase()),
  };
}

/**
 * The first route, in registration order, whose template and methods match; its parameters as written. A path that
 * matches only with another method is not found (404), as in the host, where the method is a route constraint.
 */
export function findRoute(
  routes: readonly HttpRoute[],
  path: readonly string[],
  method: string,
): { route: HttpRoute; params: Record<string, string> } | undefined {
  for (const route of routes) {
    if (route.segments.length !== path.length) continue;
    if (route.methods.length > 0 && !route.methods.includes(method)) continue;
    const params: Record<string, string> = {};
    const matches = route.segments.every((segment, i) => {
      if ('literal' in segment) return path[i].toLowerCase() === segment.literal;
      params[segment.param] = path[i];
      return path[i] !== '';
    });
    if (matches) return { route, params };
  }
  return undefined;
}

/** The path of a request target, split and percent-decoded (a malformed escape stays as written). */
export function pathSegments(target: string): string[] {
  const segments = target.split(/[?#]/)[0].split('/').slice(1);
  if (segments.length > 1 && segments.at(-1) === '') segments.pop();
  return segments.map((segment) => {
    try {
      return decodeURIComponent(segment);
    } catch {
      return segment;
    }
  });
}

/**
 * True for a Host header naming the loopback interface. A page on another site reaches a local server through DNS
 * rebinding with its own host name in this header, so everything else is refused.
 */
export function isLoopbackHost(host: string | undefined): boolean {
  return host !== undefined && /^(localhost|127\.0\.0\.1|\[::1\])(:\d{1,5})?$/i.test(host);
}

export async function readBody(req: IncomingMessage): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const chunk of req) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks);
}

/** The HttpRequest the worker would hand over: raw body bytes untouched (signatures are over raw bytes). */
export function toHttpRequest(req: IncomingMessage, body: Buffer, params: Record<string, string>): HttpRequest {
  const headers: Record<string, string> = {};
  for (const [name, value] of Object.entries(req.headers)) {
    if (value !== undefined) headers[name] = Array.isArray(value) ? value.join(', ') : value;
  }
  // `query` is left out on purpose: the library then reads it from the URL, keeping repeated keys.
  return new HttpRequest({
    method: req.method ?? 'GET',
    url: `http://${req.headers.host}${req.url ?? '/'}`,
    headers,
    params,
    ...(body.length > 0 ? { body: { bytes: new Uint8Array(body.buffer, body.byteOffset, body.length) } } : {}),
  });
}

/**
 * Writes a handler's result to the node response. An `HttpResponseInit` goes through the library's own
 * `HttpResponse`, as in the worker, so jsonBody, string/Buffer/stream bodies and default content types match.
 */
export async function writeHandlerResult(result: unknown, res: ServerResponse): Promise<void> {
  if (result === undefined || result === null) {
    res.writeHead(204).end();
    return;
  }
  const response = result instanceof HttpResponse ? result : new HttpResponse(result);
  for (const [name, value] of response.headers) {
    if (name !== 'set-cookie') res.setHeader(name, value);
  }
  if (response.cookies.length > 0)
    throw new Error('the local host sends no cookie objects (set the set-cookie header)');
  const cookies = response.headers.getSetCookie();
  if (cookies.length > 0) res.setHeader('set-cookie', cookies);
  res.statusCode = response.status;
  if (response.body === null) {
    res.end();
    return;
  }
  await pipeline(Readable.fromWeb(response.body), res);
}

/** Content types the host's JSON input formatter reads. */
const JSON_MEDIA_TYPE = /^(application\/json|text\/json|application\/[^\s/;]+\+json)\s*(;|$)/i;

export type AdminInput = { kind: 'input'; input: string | undefined } | { kind: 'refused'; status: 400 | 415 };

/**
 * The body of `POST /admin/functions/{name}`, read as the host binds it to `{ "input": string }`: any other content
 * type is 415, a body that is not such an object 400 (both with no body, as the host answers them). The host's reader
 * would turn a number into its text; the local host takes only strings.
 */
export function readAdminInput(contentType: string | undefined, body: Buffer): AdminInput {
  if (contentType === undefined || !JSON_MEDIA_TYPE.test(contentType)) return { kind: 'refused', status: 415 };
  let parsed: unknown;
  try {
    parsed = JSON.parse(body.toString('utf8'));
  } catch {
    return { kind: 'refused', status: 400 };
  }
  if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) return { kind: 'refused', status: 400 };
  const input = (parsed as { input?: unknown }).input;
  if (input === undefined || input === null) return { kind: 'input', input: undefined };
  return typeof input === 'string' ? { kind: 'input', input } : { kind: 'refused', status: 400 };
}
