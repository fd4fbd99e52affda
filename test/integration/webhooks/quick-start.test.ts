import { execFile } from 'node:child_process';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { existsSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { build } from 'esbuild';
import { LOCAL_SIGNING_SECRET_FILE, localSigningSecret, localWebhookSecret } from '../../../dev/signing';
import { newSigningSecret } from '../../../shared/webhooks/signing';
import { startHostedStack, type HostedStack } from '../../../dev/stack';
import { curlConfig, parseSignArgs } from '../../../scripts/sign';
import { FakeKeyVaultServer, FakeTokenCredential, fakeVaultClientOptions } from '../../fakes/key-vault-server';

const run = promisify(execFile);
const ROOT = path.join(__dirname, '../../..');
/** Built where `npm run build` puts scripts (two folders below the root), so the script finds the project root. */
const SIGN_SCRIPT = path.join(ROOT, 'dist', 'quick-start-check', 'sign.js');

/** The README's "Then try it" session: each command (continuation lines joined), in order. */
function readmeSession(): string[] {
  const readme = readFileSync(path.join(ROOT, 'README.md'), 'utf8');
  const start = readme.indexOf('```sh', readme.indexOf('Then try it'));
  const block = readme.slice(start + '```sh'.length, readme.indexOf('```', start + 5));
  return block
    .replace(/\\\n\s*/g, '')
    .split('\n')
    .map((line) => line.trim())
    .filter((line) => line !== '' && !line.startsWith('#'));
}

/**
 * The README's quick-start session, run as written (through `sh` and the real curl) against the app on the local
 * stack: `npm run -s sign` is the built sign script, the host's port stands in for 7071. Signed webhooks are taken,
 * the start is replayed for the same `--id`, and the secret `npm start` makes is kept and reused.
 */
describe("the README's quick-start session", () => {
  let stack: HostedStack;
  const secret = newSigningSecret();

  beforeAll(async () => {
    await build({
      entryPoints: [path.join(ROOT, 'scripts', 'sign.ts')],
      bundle: true,
      platform: 'node',
      format: 'cjs',
      outfile: SIGN_SCRIPT,
      logLevel: 'silent',
    });
    stack = await startHostedStack({ tablePrefix: 'quickstart', webhookSecret: secret });
    await stack.services.tables.createAll(); // as `npm start` does
  }, 60_000);
  afterAll(async () => {
    await stack?.stop();
    rmSync(path.dirname(SIGN_SCRIPT), { recursive: true, force: true });
  });

  /** One command of the session through sh, with `npm run -s sign` and the port replaced. */
  async function sh(command: string): Promise<string> {
    const port = new URL(stack.host.url).port;
    const local = command
      .replaceAll('npm run -s sign --', `node ${JSON.stringify(SIGN_SCRIPT)}`)
      .replaceAll('localhost:7071', `localhost:${port}`);
    const { stdout } = await run('sh', ['-c', local], {
      cwd: ROOT,
      env: { ...process.env, WEBHOOK_SIGNING_SECRET: secret },
    });
    return stdout;
  }

  it('runs as written: health, a signed eligibility check, a signed start (replayed for its --id), a poll', async () => {
    const session = readmeSession();
    expect(session.filter((line) => line.includes('npm run -s sign'))).toHaveLength(2);
    const outputs: string[] = [];
    for (const command of session.filter((line) => !line.includes('<'))) outputs.push(await sh(command));
    const [health, eligibility, started, poll] = outputs;
    expect(JSON.parse(health)).toMatchObject({ status: 'ok', checks: { webhookSignatures: 'required' } });
    expect(JSON.parse(eligibility)).toMatchObject({
      customerId: '00000000-0000-4000-8000-000000000003',
      isEligible: true,
    });
    expect(started).toMatch(/^HTTP\/1\.1 202/);
    const location = /^location: (\/api\/upgrades\/[0-9a-f-]{36})\r?$/im.exec(started)?.[1];
    expect(location).toBeDefined();
    expect(poll).toBe('');
    // "again with --id demo-1: the same"
    const again = await sh(session.find((line) => line.includes('--id demo-1'))!);
    expect(again).toMatch(/^HTTP\/1\.1 202/);
    expect(again).toMatch(/^idempotent-replayed: true\r?$/im);
    expect(again).toContain(`location: ${location}`);
    expect((await stack.get(location!.replace(/^\/api/, ''))).status).toBe(200);
  });

  it('refuses a body changed after signing, and a request without the signature headers', async () => {
    const body = '{"customerId":"00000000-0000-4000-8000-000000000003"}';
    const signed = await sh(`npm run -s sign -- '${body}'`);
    const tampered = signed.replace('000000000003', '000000000004');
    const port = new URL(stack.host.url).port;
    for (const config of [tampered, curlConfig(body, { 'webhook-id': 'msg_1' })]) {
      const child = run('curl', [
        '-s',
        '-o',
        '/dev/null',
        '-w',
        '%{http_code}',
        '-K',
        '-',
        `localhost:${port}/api/eligibility`,
      ]);
      child.child.stdin?.end(config);
      expect((await child).stdout).toBe('401');
    }
  });

  it('writes a curl config from which curl sends the body byte for byte', async () => {
    const body = '{"a":"quote \\" backslash \\\\ tab\\t","b":"é"}\n';
    const received: { body: string; headers: Record<string, unknown> }[] = [];
    const server = createServer((request, response) => {
      const chunks: Buffer[] = [];
      request.on('data', (chunk: Buffer) => chunks.push(chunk));
      request.on('end', () => {
        received.push({ body: Buffer.concat(chunks).toString('utf8'), headers: request.headers });
        response.end();
      });
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    try {
      const child = run('curl', ['-s', '-K', '-', `http://127.0.0.1:${(server.address() as AddressInfo).port}/`]);
      child.child.stdin?.end(curlConfig(body, { 'webhook-id': 'msg_1' }));
      await child;
    } finally {
      await new Promise<void>((resolve) => server.close(() => resolve()));
    }
    expect(received).toEqual([
      {
        body,
        headers: expect.objectContaining({ 'content-type': 'application/json', 'webhook-id': 'msg_1' }) as unknown,
      },
    ]);
    expect(parseSignArgs(['--id', 'demo-1', body])).toEqual({ webhookId: 'demo-1', body });
    expect(parseSignArgs([body]).webhookId).toMatch(/^msg_[0-9a-f]{32}$/);
    expect(() => parseSignArgs([])).toThrow(/usage/);
    expect(() => parseSignArgs(['--id', 'two words', body])).toThrow(/webhook-id/);
  });
});

describe("npm start's own signing secret", () => {
  let root: string;
  beforeEach(() => {
    root = mkdtempSync(path.join(tmpdir(), 'signing-'));
    writeFileSync(
      path.join(root, 'local.settings.sample.json'),
      JSON.stringify({ Values: { KEY_VAULT_URL: '', WEBHOOK_SIGNING_SECRET: '' } }), // as in the project's sample
    );
  });
  afterEach(() => rmSync(root, { recursive: true, force: true }));

  it('is made once, readable by its owner only, and kept across starts', () => {
    const first = localSigningSecret(root);
    expect(first.created).toBe(true);
    const file = path.join(root, LOCAL_SIGNING_SECRET_FILE);
    expect(existsSync(file)).toBe(true);
    expect(statSync(file).mode & 0o077).toBe(0);
    expect(localSigningSecret(root)).toEqual({ secret: first.secret, created: false });
  });

  it('is what `npm run sign` signs with, unless WEBHOOK_SIGNING_SECRET is configured (the first of a rotation)', async () => {
    expect(await localWebhookSecret(root, {})).toBeUndefined();
    const { secret } = localSigningSecret(root);
    expect(await localWebhookSecret(root, {})).toBe(secret);
    const configured = [newSigningSecret(), newSigningSecret()];
    expect(await localWebhookSecret(root, { WEBHOOK_SIGNING_SECRET: configured.join(',') })).toBe(configured[0]);
    await expect(localWebhookSecret(root, { WEBHOOK_SIGNING_SECRET: 'short' })).rejects.toThrow(
      /^WEBHOOK_SIGNING_SECRET must be whsec_/,
    );
  });

  it("with KEY_VAULT_URL set, `npm run sign` signs with the vault's secret, as the app `npm start` runs reads it", async () => {
    const vault = await new FakeKeyVaultServer().start();
    try {
      const access = { credential: new FakeTokenCredential(), clientOptions: fakeVaultClientOptions(1) };
      localSigningSecret(root);
      const local = newSigningSecret();
      const env = { KEY_VAULT_URL: vault.url, WEBHOOK_SIGNING_SECRET: local };
      // not in the vault: refused naming the setting and the vault, never signed with a secret the app does not use
      await expect(localWebhookSecret(root, env, access)).rejects.toThrow(
        `WEBHOOK_SIGNING_SECRET is not set in Key Vault ${vault.url}`,
      );
      const rotation = [newSigningSecret(), newSigningSecret()];
      vault.seed('webhook-signing-secret', rotation.join(','));
      expect(await localWebhookSecret(root, env, access)).toBe(rotation[0]);
      vault.seed('webhook-signing-secret', 'short');
      await expect(localWebhookSecret(root, env, access)).rejects.toThrow(/^WEBHOOK_SIGNING_SECRET must be whsec_/);
    } finally {
      await vault.close();
    }
  });
});
