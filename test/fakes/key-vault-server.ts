import { randomBytes } from 'node:crypto';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { Socket } from 'node:net';
import type { AccessToken, TokenCredential } from '@azure/core-auth';
import type { SecretClientOptions } from '@azure/keyvault-secrets';

/**
 * A local endpoint that speaks the Key Vault secrets REST protocol to the real `SecretClient` (Key Vault has no
 * emulator). Faithful to what the SDK relies on: the challenge (an unauthenticated request gets 401 with
 * `WWW-Authenticate: Bearer authorization=..., resource=...`), `api-version` on every request, secret bundles
 * `{ value, id, tags, attributes }` with unix-second dates, versions (the newest is the current one), tags as Key
 * Vault checks them (at most 15, string values of at most 256 characters), and errors as `{ error: { code, message } }`.
 * Faults (429 with Retry-After, 5xx, refused or reset connections) are injected by tests, and writes can be held.
 */

export interface FakeSecretVersion {
  version: string;
  value: string;
  created: number;
  contentType?: string;
  tags?: Record<string, string>;
}

export interface InjectedFault {
  status: number;
  retryAfterSeconds?: number;
  code?: string;
}

export interface KeyVaultRequestRecord {
  method: string;
  path: string;
  authenticated: boolean;
  status: number;
}

export const FAKE_KEY_VAULT_TENANT = '72f988bf-86f1-41af-91ab-2d7cd011db47';

const SECRET_NAME = /^[0-9a-zA-Z-]{1,127}$/;
const MAX_TAGS = 15;
const MAX_TAG_NAME = 512;
const MAX_TAG_VALUE = 256;

/** Key Vault's rules for tags: an object of at most 15 string values; undefined when they are broken. */
function validTags(tags: unknown): Record<string, string> | undefined {
  if (typeof tags !== 'object' || tags === null || Array.isArray(tags)) return undefined;
  const entries = Object.entries(tags);
  if (entries.length > MAX_TAGS) return undefined;
  for (const [name, value] of entries) {
    if (name.length > MAX_TAG_NAME || typeof value !== 'string' || value.length > MAX_TAG_VALUE) return undefined;
  }
  return Object.fromEntries(entries);
}

export class FakeKeyVaultServer {
  /** Authenticated secret reads (GET), whatever their answer. */
  reads = 0;
  /** Authenticated secret writes (PUT), whatever their answer. */
  writes = 0;
  /** 401 challenges sent. */
  challenges = 0;
  readonly requests: KeyVaultRequestRecord[] = [];
  private readonly secrets = new Map<string, FakeSecretVersion[]>();
  private readonly faults: InjectedFault[] = [];
  private readonly sockets = new Set<Socket>();
  private mode: 'up' | 'reset' | 'refuse' | 'hang' = 'up';
  private held: { until: Promise<void>; arrived: () => void } | undefined;
  private server: Server | undefined;
  private port = 0;

  constructor(readonly acceptedToken = 'fake-key-vault-token') {}

  /** The vault URL to give `SecretClient` (http on loopback, with a trailing slash as Azure shows it). */
  get url(): string {
    return `http://127.0.0.1:${this.port}`;
  }

  async start(): Promise<this> {
    await this.listen(0);
    return this;
  }

  async close(): Promise<void> {
    await this.stopListening();
  }

  /** Puts a value without going through HTTP (not counted). */
  seed(name: string, value: string, tags?: Record<string, string>): FakeSecretVersion {
    return this.addVersion(name, value, tags ? { tags } : {});
  }

  /** The current (newest) version of a secret. */
  current(name: string): FakeSecretVersion | undefined {
    return this.secrets.get(name)?.at(-1);
  }

  /**
   * Holds the next authenticated write (PUT) after it arrived, before it is stored: a slow write in flight.
   * `arrived` resolves when it is held; `release()` lets it be stored and answered.
   */
  holdNextWrite(): { arrived: Promise<void>; release: () => void } {
    let release!: () => void;
    let arrived!: () => void;
    const until = new Promise<void>((resolve) => (release = resolve));
    const arrival = new Promise<void>((resolve) => (arrived = resolve));
    this.held = { until, arrived };
    return { arrived: arrival, release };
  }

  /** Every version of a secret, oldest first. */
  versions(name: string): FakeSecretVersion[] {
    return [...(this.secrets.get(name) ?? [])];
  }

  /** The next authenticated requests get these answers instead (one fault per request, in order). */
  injectFaults(...faults: InjectedFault[]): void {
    this.faults.push(...faults);
  }

  /**
   * Simulates an outage: `refuse` stops listening (connections refused), `reset` accepts and destroys each
   * connection, `hang` accepts requests and never answers. `restore()` ends it on the same port.
   */
  async outage(mode: 'refuse' | 'reset' | 'hang'): Promise<void> {
    this.mode = mode;
    for (const socket of this.sockets) socket.destroy();
    if (mode === 'refuse') await this.stopListening();
  }

  async restore(): Promise<void> {
    if (this.mode === 'hang') for (const socket of this.sockets) socket.destroy();
    if (this.mode === 'refuse') await this.listen(this.port);
    this.mode = 'up';
  }

  resetCounters(): void {
    this.reads = 0;
    this.writes = 0;
    this.challenges = 0;
    this.requests.length = 0;
  }

  private listen(port: number): Promise<void> {
    const server = createServer((request, response) => void this.handle(request, response));
    server.on('connection', (socket) => {
      if (this.mode === 'reset') {
        socket.destroy();
        return;
      }
      this.sockets.add(socket);
      socket.on('close', () => this.sockets.delete(socket));
    });
    this.server = server;
    return new Promise((resolve, reject) => {
      server.once('error', reject);
      server.listen(port, '127.0.0.1', () => {
        const address = server.address();
        this.port = typeof address === 'object' && address ? address.port : port;
        resolve();
      });
    });
  }

  private stopListening(): Promise<void> {
    const server = this.server;
    this.server = undefined;
    for (const socket of this.sockets) socket.destroy();
    if (!server) return Promise.resolve();
    return new Promise((resolve) => server.close(() => resolve()));
  }

  private addVersion(
    name: string,
    value: string,
    extra: Pick<FakeSecretVersion, 'contentType' | 'tags'>,
  ): FakeSecretVersion {
    const version: FakeSecretVersion = {
      version: randomBytes(16).toString('hex'),
      value,
      created: Math.floor(Date.now() / 1000),
      ...extra,
    };
    const list = this.secrets.get(name) ?? [];
    list.push(version);
    this.secrets.set(name, list);
    return version;
  }

  private bundle(name: string, secret: FakeSecretVersion): Record<string, unknown> {
    return {
      value: secret.value,
      id: `${this.url}/secrets/${name}/${secret.version}`,
      ...(secret.contentType ? { contentType: secret.contentType } : {}),
      ...(secret.tags ? { tags: secret.tags } : {}),
      attributes: {
        enabled: true,
        created: secret.created,
        updated: secret.created,
        recoveryLevel: 'Recoverable+Purgeable',
        recoverableDays: 90,
      },
    };
  }

  private async handle(request: IncomingMessage, response: ServerResponse): Promise<void> {
    const body = await readBody(request);
    if (this.mode === 'reset') {
      request.socket.destroy();
      return;
    }
    if (this.mode === 'hang') return; // the socket is destroyed by restore() or close()
    const url = new URL(request.url ?? '/', this.url);
    const method = request.method ?? 'GET';
    const authorization = request.headers.authorization;
    const authenticated = authorization === `Bearer ${this.acceptedToken}`;
    const send = (status: number, json: unknown, headers: Record<string, string> = {}): void => {
      this.requests.push({ method, path: url.pathname, authenticated, status });
      response.writeHead(status, { 'content-type': 'application/json; charset=utf-8', ...headers });
      response.end(json === undefined ? undefined : JSON.stringify(json));
    };
    const error = (status: number, code: string, message: string, headers?: Record<string, string>): void =>
      send(status, { error: { code, message } }, headers);

    if (!authenticated) {
      this.challenges += 1;
      // What Key Vault answers without (or with a wrong) bearer token; the SDK reads tenant and resource from it.
      error(401, 'Unauthorized', 'AKV10000: Request is missing a Bearer or PoP token.', {
        'www-authenticate': `Bearer authorization="https://login.microsoftonline.com/${FAKE_KEY_VAULT_TENANT}", resource="https://vault.azure.net"`,
      });
      return;
    }
    if (!url.searchParams.get('api-version')) {
      error(400, 'BadParameter', 'The api-version query parameter is required.');
      return;
    }
    const parts = url.pathname.split('/').filter((p) => p !== '');
    if (parts[0] !== 'secrets' || parts.length < 2 || parts.length > 3 || !SECRET_NAME.test(parts[1] ?? '')) {
      error(404, 'NotFound', 'Unknown path.');
      return;
    }
    const name = parts[1];
    const version = parts[2];
    if (method === 'GET') this.reads += 1;
    else if (method === 'PUT') this.writes += 1;

    const fault = this.faults.shift();
    if (fault) {
      const headers: Record<string, string> = {};
      if (fault.retryAfterSeconds !== undefined) headers['retry-after'] = String(fault.retryAfterSeconds);
      const code = fault.code ?? (fault.status === 429 ? 'Throttled' : 'InternalServerError');
      error(fault.status, code, 'Injected fault.', headers);
      return;
    }

    if (method === 'GET') {
      const list = this.secrets.get(name) ?? [];
      const secret = version ? list.find((v) => v.version === version) : list[list.length - 1];
      if (!secret) {
        const what = version ? `A secret with (name/id) ${name}/${version}` : `A secret with (name/id) ${name}`;
        error(404, 'SecretNotFound', `${what} was not found in this key vault.`);
        return;
      }
      send(200, this.bundle(name, secret));
      return;
    }
    if (method === 'PUT' && version === undefined) {
      let parsed: unknown;
      try {
        parsed = JSON.parse(body);
      } catch {
        error(400, 'BadParameter', 'The request body is not JSON.');
        return;
      }
      const { value, contentType, tags } = (parsed ?? {}) as {
        value?: unknown;
        contentType?: unknown;
        tags?: unknown;
      };
      if (typeof value !== 'string') {
        error(400, 'BadParameter', 'Property "value" is required.');
        return;
      }
      const checkedTags = tags === undefined ? undefined : validTags(tags);
      if (tags !== undefined && !checkedTags) {
        error(
          400,
          'BadParameter',
          `Tags must be at most ${MAX_TAGS} string values of at most ${MAX_TAG_VALUE} characters.`,
        );
        return;
      }
      const hold = this.held;
      if (hold) {
        this.held = undefined;
        hold.arrived();
        await hold.until;
      }
      const secret = this.addVersion(name, value, {
        contentType: typeof contentType === 'string' ? contentType : undefined,
        tags: checkedTags,
      });
      send(200, this.bundle(name, secret));
      return;
    }
    error(405, 'MethodNotAllowed', `${method} is not supported here.`);
  }
}

function readBody(request: IncomingMessage): Promise<string> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    request.on('data', (chunk: Buffer) => chunks.push(chunk));
    request.on('end', () => resolve(Buffer.concat(chunks).toString('utf8')));
    request.on('error', reject);
  });
}

/** A credential that hands out the token the fake accepts, counting how often it is asked (and for which tenant). */
/**
 * The Key Vault SDK's client options against this fake: plain loopback HTTP, no check of the challenge's resource, and
 * the SDK's own retry policy with `maxRetries` and short delays.
 */
export function fakeVaultClientOptions(maxRetries: number): SecretClientOptions {
  return {
    disableChallengeResourceVerification: true,
    allowInsecureConnection: true,
    retryOptions: { maxRetries, retryDelayInMs: 10, maxRetryDelayInMs: 40 },
  };
}

export class FakeTokenCredential implements TokenCredential {
  calls = 0;
  readonly tenants: (string | undefined)[] = [];

  constructor(private readonly token = 'fake-key-vault-token') {}

  getToken(_scopes: string | string[], options?: { tenantId?: string }): Promise<AccessToken> {
    this.calls += 1;
    this.tenants.push(options?.tenantId);
    return Promise.resolve({ token: this.token, expiresOnTimestamp: Date.now() + 3_600_000 });
  }
}
