import { createServer, request as httpRequest, type IncomingHttpHeaders } from 'node:http';
import type { AddressInfo, Socket } from 'node:net';

export interface WireRequest {
  method: string;
  path: string;
  headers: IncomingHttpHeaders;
  body: string;
}

export interface RecordingProxy {
  url: string;
  requests: WireRequest[];
  /** Requests whose path matches (case-insensitive). */
  to(pathPattern: RegExp): WireRequest[];
  close(): Promise<void>;
}

/**
 * A transparent loopback HTTP proxy in front of the simulator: records every request exactly as the client put it on
 * the wire (headers included), runs `beforeForward` before passing it on (tests use it to change simulator faults
 * between two attempts deterministically), and forwards aborts and resets both ways.
 */
export async function recordingProxy(
  target: string,
  beforeForward?: (request: WireRequest, index: number) => void,
): Promise<RecordingProxy> {
  const requests: WireRequest[] = [];
  const sockets = new Set<Socket>();
  const server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (chunk: Buffer) => chunks.push(chunk));
    req.on('end', () => {
      const body = Buffer.concat(chunks);
      const captured: WireRequest = {
        method: req.method ?? '',
        path: req.url ?? '',
        headers: req.headers,
        body: body.toString('utf8'),
      };
      requests.push(captured);
      beforeForward?.(captured, requests.length - 1);
      const upstream = httpRequest(
        `${target}${req.url ?? '/'}`,
        { method: req.method, headers: req.headers, agent: false },
        (answer) => {
          res.writeHead(answer.statusCode ?? 502, answer.headers);
          answer.pipe(res);
          answer.on('error', () => res.destroy());
        },
      );
      upstream.on('error', () => res.destroy());
      // The client gave up (attempt timeout): drop the upstream call too, as a real network would.
      res.on('close', () => {
        if (!res.writableFinished) upstream.destroy();
      });
      upstream.end(body);
    });
  });
  server.on('connection', (socket) => {
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    requests,
    to: (pattern) => requests.filter((r) => pattern.test(r.path)),
    close: () =>
      new Promise<void>((resolve) => {
        for (const socket of sockets) socket.destroy();
        server.close(() => resolve());
      }),
  };
}
