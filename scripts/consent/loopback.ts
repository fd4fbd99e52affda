import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
import { OAuthError } from './token-endpoint';

/**
 * The local end of the authorization-code flow (RFC 8252, loopback redirect): a one-shot HTTP listener on
 * 127.0.0.1 that receives `?code=...&state=...` from the browser after the admin signs in. Node's http server,
 * because nothing in the Azure SDK listens for redirects.
 */
export interface LoopbackRedirect {
  /** `http://localhost:<port>`: what the authorize request names (Entra ID ignores the port of a localhost URI). */
  redirectUri: string;
  /** The authorization code, once a request with the expected state arrives. */
  code: Promise<string>;
  close(): Promise<void>;
}

export interface LoopbackOptions {
  /** The `state` sent in the authorize request; a redirect with any other state is refused. */
  state: string;
  /** 0 (default): a free port. */
  port?: number;
  /** Gives up after this long (default 5 minutes). */
  timeoutMs?: number;
}

const PAGE = (title: string, body: string): string =>
  `<!doctype html><html><head><meta charset="utf-8"><title>${title}</title></head>` +
  `<body style="font-family: sans-serif; margin: 3em"><h1>${title}</h1><p>${body}</p></body></html>`;

function escapeHtml(value: string): string {
  return value.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
}

export async function listenForRedirect(options: LoopbackOptions): Promise<LoopbackRedirect> {
  let resolveCode!: (code: string) => void;
  let rejectCode!: (error: Error) => void;
  const code = new Promise<string>((resolve, reject) => {
    resolveCode = resolve;
    rejectCode = reject;
  });
  // The caller awaits `code`; this keeps an early rejection (timeout before anyone awaits) from being "unhandled".
  code.catch(() => undefined);

  const unfinished = new Set<Promise<void>>();
  const reply = (response: ServerResponse, status: number, title: string, body: string): void => {
    response.writeHead(status, {
      'content-type': 'text/html; charset=utf-8',
      'cache-control': 'no-store',
      connection: 'close',
    });
    // close() waits for these, so the browser always gets its page before the listener stops.
    const finished = new Promise<void>((resolve) => response.once('close', () => resolve()));
    unfinished.add(finished);
    void finished.then(() => unfinished.delete(finished));
    response.end(PAGE(title, body));
  };

  const handle = (request: IncomingMessage, response: ServerResponse): void => {
    const url = new URL(request.url ?? '/', 'http://localhost');
    if (request.method !== 'GET' || url.pathname !== '/') {
      reply(response, 404, 'Not found', 'This listener only receives the sign-in redirect.');
      return;
    }
    const params = url.searchParams;
    if (params.get('state') !== options.state) {
      // A stale tab or a forged request: refuse it and keep waiting for the real redirect.
      reply(response, 400, 'Unexpected request', 'The state does not match this consent run. Close this tab.');
      return;
    }
    const error = params.get('error');
    if (error) {
      const description = params.get('error_description') ?? '';
      reply(response, 400, 'Consent failed', `${escapeHtml(error)}: ${escapeHtml(description)}`);
      rejectCode(new OAuthError(error, description, 400));
      return;
    }
    const received = params.get('code');
    if (!received) {
      reply(response, 400, 'Consent failed', 'The redirect carried no authorization code.');
      rejectCode(new OAuthError('invalid_request', 'the redirect carried no authorization code', 400));
      return;
    }
    reply(response, 200, 'Consent received', 'You can close this tab and return to the terminal.');
    resolveCode(received);
  };

  const sockets = new Set<Socket>();
  const listen = (port: number, host: string): Promise<Server> => {
    const server = createServer(handle);
    server.on('connection', (socket) => {
      sockets.add(socket);
      socket.on('close', () => sockets.delete(socket));
    });
    return new Promise<Server>((resolve, reject) => {
      server.once('error', reject);
      server.listen(port, host, () => {
        server.off('error', reject);
        resolve(server);
      });
    });
  };
  // "localhost" in the browser may mean 127.0.0.1 or ::1: listen on both loopback addresses, same port. IPv6 is
  // best effort (a machine without it still gets the IPv4 listener).
  const servers = [await listen(options.port ?? 0, '127.0.0.1')];
  const { port } = servers[0].address() as AddressInfo;
  try {
    servers.push(await listen(port, '::1'));
  } catch {
    // no IPv6 loopback, or the port is taken there: IPv4 only
  }
  const timeoutMs = options.timeoutMs ?? 5 * 60_000;
  const timer = setTimeout(
    () =>
      rejectCode(new OAuthError('timeout', `no sign-in redirect within ${Math.round(timeoutMs / 1000)} seconds`, 408)),
    timeoutMs,
  );

  let closed: Promise<void> | undefined;
  const close = (): Promise<void> => {
    clearTimeout(timer);
    closed ??= Promise.all(unfinished).then(() =>
      Promise.all(
        servers.map(
          (server) =>
            new Promise<void>((resolve) => {
              server.close(() => resolve());
              for (const socket of sockets) socket.destroy();
            }),
        ),
      ).then(() => undefined),
    );
    return closed;
  };
  return { redirectUri: `http://localhost:${port}`, code, close };
}
