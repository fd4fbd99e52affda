import type { IncomingMessage, ServerResponse } from 'node:http';

const MAX_BODY_BYTES = 1024 * 1024;

export class BodyTooLargeError extends Error {}

/** Reads the whole request body (bounded: a simulator must not be knocked over by a huge upload). */
export function readBody(req: IncomingMessage): Promise<string> {
  // Events rather than `for await`: the async iterator costs measurably at thousands of requests per second.
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    req.on('data', (chunk: Buffer) => {
      size += chunk.length;
      if (size > MAX_BODY_BYTES) {
        req.removeAllListeners('data');
        req.resume();
        reject(new BodyTooLargeError('request body too large'));
        return;
      }
      chunks.push(chunk);
    });
    req.on('end', () =>
      resolve(chunks.length === 1 ? chunks[0].toString('utf8') : Buffer.concat(chunks).toString('utf8')),
    );
    req.on('error', reject);
  });
}

export function header(req: IncomingMessage, name: string): string | undefined {
  const value = req.headers[name];
  return Array.isArray(value) ? value[0] : value;
}

/** Writes a response; objects become JSON. `malformed` truncates a JSON body mid-way (fault injection). */
export function writeResponse(
  res: ServerResponse,
  status: number,
  headers: Record<string, string>,
  body: unknown,
  malformed = false,
): void {
  let payload: string | undefined;
  let contentType: string | undefined;
  if (typeof body === 'string') {
    payload = body;
    contentType = headers['Content-Type'] ?? 'text/plain; charset=utf-8';
  } else if (body !== undefined) {
    payload = JSON.stringify(body);
    contentType = 'application/json; charset=utf-8';
    if (malformed) payload = payload.slice(0, Math.max(1, Math.floor(payload.length / 2)));
  }
  const all: Record<string, string> = { ...headers };
  if (contentType) all['Content-Type'] = contentType;
  all['Content-Length'] = String(payload === undefined ? 0 : Buffer.byteLength(payload));
  res.writeHead(status, all);
  res.end(payload);
}

/** JSON property lookup ignoring case: Microsoft's .NET SDKs send PascalCase, its Java SDK camelCase. */
export function caseInsensitive(body: Record<string, unknown>): (name: string) => unknown {
  const lowered = new Map<string, unknown>();
  for (const [key, value] of Object.entries(body)) lowered.set(key.toLowerCase(), value);
  return (name) => lowered.get(name.toLowerCase());
}
