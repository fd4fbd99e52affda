import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { createServer, type Server } from 'node:https';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { gunzipSync } from 'node:zlib';

export interface Envelope {
  name: string;
  iKey: string;
  data: { baseType: string; baseData: Record<string, unknown> };
}

export interface Ingestion {
  server: Server;
  url: string;
  /** The self-signed certificate the endpoint serves: the test trusts exactly this one, nothing is disabled. */
  cert: Buffer;
  envelopes: Envelope[];
  authorizations: (string | undefined)[];
}

/**
 * A local Application Insights ingestion endpoint: POST /v2.1/track with a (gzip) JSON array of envelopes, answered
 * like Breeze does. The exporter insists on https, so it serves a certificate made with openssl for the test.
 */
export async function startIngestion(): Promise<Ingestion> {
  const dir = mkdtempSync(path.join(tmpdir(), 'ingest-'));
  const keyFile = path.join(dir, 'key.pem');
  const certFile = path.join(dir, 'cert.pem');
  execFileSync(
    'openssl',
    [
      'req',
      '-x509',
      '-newkey',
      'ec',
      '-pkeyopt',
      'ec_paramgen_curve:prime256v1',
      '-nodes',
      '-days',
      '1',
      '-subj',
      '/CN=127.0.0.1',
      '-addext',
      'subjectAltName=IP:127.0.0.1',
      '-keyout',
      keyFile,
      '-out',
      certFile,
    ],
    { stdio: 'ignore' },
  );
  const key = readFileSync(keyFile);
  const cert = readFileSync(certFile);
  rmSync(dir, { recursive: true, force: true });
  const envelopes: Envelope[] = [];
  const authorizations: (string | undefined)[] = [];
  const server = createServer({ key, cert }, (req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      let body = Buffer.concat(chunks);
      if (req.headers['content-encoding'] === 'gzip') body = gunzipSync(body);
      let received = 0;
      if (req.url?.startsWith('/v2.1/track')) {
        authorizations.push(req.headers.authorization);
        const parsed = JSON.parse(body.toString('utf8')) as Envelope | Envelope[];
        const batch = Array.isArray(parsed) ? parsed : [parsed];
        envelopes.push(...batch);
        received = batch.length;
      }
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end(JSON.stringify({ itemsReceived: received, itemsAccepted: received, errors: [] }));
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const address = server.address();
  const port = typeof address === 'object' && address ? address.port : 0;
  return { server, url: `https://127.0.0.1:${port}/`, cert, envelopes, authorizations };
}
