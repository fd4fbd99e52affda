import type { IncomingMessage, ServerResponse } from 'node:http';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { HttpRequest, HttpResponse, type Cookie } from '@azure/functions';
import { compareSpecificity, compileRoute, matchRoute, type CompiledRoute } from './routes';
import type { HttpRegistration } from './registry';

export interface HttpRoute {
  registration: HttpRegistration;
  route: CompiledRoute;
  /** Upper-case methods; empty = every method (the Functions default when `methods` is omitted). */
  methods: string[];
}

export function compileHttpRoutes(registrations: HttpRegistration[]): HttpRoute[] {
  return registrations
    .map((registration) => ({
      registration,
      route: compileRoute(registration.options.route ?? registration.name),
      methods: (registration.options.methods ?? []).map((m) => m.toUpperCase()),
    }))
    .sort((a, b) => compareSpecificity(a.route, b.route));
}

export type RouteLookup =
  | { kind: 'found'; route: HttpRoute; params: Record<string, string> }
  | { kind: 'methodNotAllowed'; allowed: string[] }
  | { kind: 'notFound' };

/** Finds the function for a path below the route prefix; 405 when the path matches but no route takes the method. */
export function findRoute(routes: HttpRoute[], pathSegments: string[], method: string): RouteLookup {
  const allowed = new Set<string>();
  for (const route of routes) {
    const params = matchRoute(route.route, pathSegments);
    if (!params) continue;
    if (route.methods.length === 0 || route.methods.includes(method)) return { kind: 'found', route, params };
    route.methods.forEach((m) => allowed.add(m));
  }
  return allowed.size > 0 ? { kind: 'methodNotAllowed', allowed: [...allowed] } : { kind: 'notFound' };
}

export async function readBody(req: IncomingMessage): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const chunk of req) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks);
}

/** The HttpRequest the Functions host would hand over: raw body bytes untouched (signatures are over raw bytes). */
export function toHttpRequest(
  req: IncomingMessage,
  body: Buffer,
  params: Record<string, string>,
  fallbackHost: string,
): HttpRequest {
  const headers: Record<string, string> = {};
  for (const [name, value] of Object.entries(req.headers)) {
    if (value !== undefined) headers[name] = Array.isArray(value) ? value.join(', ') : value;
  }
  const url = `http://${req.headers.host ?? fallbackHost}${req.url ?? '/'}`;
  // `query` is left out on purpose: the library then reads it from the URL, keeping repeated keys.
  return new HttpRequest({
    method: req.method ?? 'GET',
    url,
    headers,
    params,
    ...(body.length > 0 ? { body: { bytes: new Uint8Array(body.buffer, body.byteOffset, body.length) } } : {}),
  });
}

function isHttpResponse(value: unknown): value is HttpResponse {
  return (
    value instanceof HttpResponse ||
    (typeof value === 'object' &&
      value !== null &&
      (value as { headers?: unknown }).headers instanceof Headers &&
      typeof (value as { arrayBuffer?: unknown }).arrayBuffer === 'function')
  );
}

export function serializeCookie(cookie: Cookie): string {
  const parts = [`${cookie.name}=${cookie.value}`];
  if (cookie.domain) parts.push(`Domain=${cookie.domain}`);
  if (cookie.path) parts.push(`Path=${cookie.path}`);
  if (cookie.expires !== undefined) parts.push(`Expires=${new Date(cookie.expires).toUTCString()}`);
  if (cookie.maxAge !== undefined) parts.push(`Max-Age=${cookie.maxAge}`);
  if (cookie.secure) parts.push('Secure');
  if (cookie.httpOnly) parts.push('HttpOnly');
  if (cookie.sameSite) parts.push(`SameSite=${cookie.sameSite}`);
  return parts.join('; ');
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
  const response = isHttpResponse(result) ? result : new HttpResponse(result);
  const setCookies = response.headers.getSetCookie();
  for (const [name, value] of response.headers) {
    if (name !== 'set-cookie') res.setHeader(name, value);
  }
  const cookies = [...setCookies, ...response.cookies.map(serializeCookie)];
  if (cookies.length > 0) res.setHeader('set-cookie', cookies);
  res.statusCode = response.status;
  if (response.body === null) {
    res.end();
    return;
  }
  await pipeline(Readable.fromWeb(response.body), res);
}

export function sendJson(
  res: ServerResponse,
  status: number,
  body: unknown,
  headers: Record<string, string> = {},
): void {
  const text = JSON.stringify(body);
  res.writeHead(status, { 'content-type': 'application/json; charset=utf-8', ...headers });
  res.end(text);
}
