import { mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { FunctionRegistry, type FinishedInvocation } from '../../../dev/host';
import { loadLocalSettings } from '../../../dev/host/settings';
import { Tables } from '../../../shared/storage/tables';
import { newSigningSecret } from '../../../shared/webhooks/signing';
import { startTestLocalHost, type TestLocalHost } from '../../helpers/local-host';

// The real app, loaded the way `npm start` loads it: package.json `main` (mapped to the TypeScript sources here),
// the embedded local settings, then the test Azurite for storage. The failing loads come first: a module that loaded
// once stays loaded, and the registrations it made stay made.
describe('local host: the real app', () => {
  const { values } = loadLocalSettings(path.resolve(__dirname, '../../..'), {});
  let host: TestLocalHost | undefined;
  afterAll(async () => host?.stop());

  it('fails the start when the entry point registers nothing: "No job functions found", not "0 functions"', async () => {
    const appRoot = mkdtempSync(path.join(tmpdir(), 'host-empty-app-'));
    mkdirSync(path.join(appRoot, 'functions'));
    writeFileSync(path.join(appRoot, 'functions', 'index.ts'), '// registers nothing\n');
    writeFileSync(path.join(appRoot, 'package.json'), JSON.stringify({ main: 'dist/functions/index.js' }));
    await expect(startTestLocalHost({ appRoot })).rejects.toThrow(
      /^No job functions found: the entry point registered/,
    );
  });

  it('fails the start when a setting is missing, in the worker’s words, naming the setting', async () => {
    await expect(
      startTestLocalHost({ settings: { ...values, TABLE_NAME_PREFIX: 'hostapp', PARTNER_CENTER_TENANT_ID: '' } }),
    ).rejects.toThrow(/^Worker was unable to load entry point "functions\/index\.ts": .*PARTNER_CENTER_TENANT_ID/);
  });

  it('registers the functions from package.json main and answers GET /api/health with 200', async () => {
    // The app's tables, as the deployment (or `npm start`) creates them: the health check creates nothing.
    await new Tables({
      storage: { kind: 'connectionString', connectionString: process.env.AzureWebJobsStorage ?? '' },
      tableNamePrefix: 'hostapp',
    }).createAll();
    host = await startTestLocalHost({
      // The signing secret `npm start` gives the app when the settings hold none.
      settings: { ...values, TABLE_NAME_PREFIX: 'hostapp', WEBHOOK_SIGNING_SECRET: newSigningSecret() },
      hostJson: { extensions: { queues: { maxPollingInterval: '00:00:00.500' } } },
    });
    expect(host.registrations.map((r) => r.name)).toContain('health');
    const response = await fetch(`${host.url}/api/health`);
    expect(response.status).toBe(200);
    expect(await response.json()).toMatchObject({
      status: 'ok',
      checks: { tableStorage: 'ok', webhookSignatures: 'required' },
    });
    expect(await host.logged(/Executed 'Functions\.health' \(Succeeded, Id=[0-9a-f-]{36}/)).toBeDefined();
  });
});

describe('local host: app hooks', () => {
  it('runs appStart before serving, and appTerminate on stop once the invocations in flight have ended', async () => {
    const events: string[] = [];
    let finishRun = (): void => undefined;
    const functions = new FunctionRegistry();
    functions.hook.appStart((context) => {
      events.push('appStart');
      context.hookData.startedAt = 'start';
    });
    functions.hook.appTerminate(async (context) => {
      await Promise.resolve();
      events.push(`appTerminate (hookData from appStart: ${String(context.hookData.startedAt)})`);
    });
    functions.http('ping', { methods: ['GET'], handler: () => ({ jsonBody: { events } }) });
    functions.timer('slowPoll', {
      schedule: '0 0 0 1 1 *',
      handler: async () => {
        events.push('run started');
        await new Promise<void>((resolve) => (finishRun = resolve));
        events.push('run ended');
      },
    });
    const host = await startTestLocalHost({ functions });
    expect(await (await fetch(`${host.url}/api/ping`)).json()).toEqual({ events: ['appStart'] });
    const run = host.runFunction('slowPoll');
    const stopped = host.stop();
    expect(events).toEqual(['appStart', 'run started']);
    finishRun();
    await Promise.all([run, stopped]);
    expect(events).toEqual(['appStart', 'run started', 'run ended', 'appTerminate (hookData from appStart: start)']);
  });
});

describe('local host: invocation events', () => {
  it('tells a watcher each invocation that ends, with its function, reason and outcome', async () => {
    const functions = new FunctionRegistry();
    functions.http('ping', { methods: ['GET'], handler: () => ({ body: 'pong' }) });
    functions.timer('boom', {
      schedule: '0 0 0 1 1 *',
      handler: () => {
        throw new Error('boom');
      },
    });
    const finished: FinishedInvocation[] = [];
    const host = await startTestLocalHost({ functions, onInvocation: (invocation) => finished.push(invocation) });
    try {
      expect(await (await fetch(`${host.url}/api/ping`)).text()).toBe('pong');
      await expect(host.runFunction('boom')).rejects.toThrow('boom');
      expect(finished).toEqual([
        expect.objectContaining({
          functionName: 'ping',
          outcome: 'Succeeded',
          reason: expect.stringMatching(/host APIs/),
        }),
        expect.objectContaining({
          functionName: 'boom',
          outcome: 'Failed',
          reason: expect.stringMatching(/host APIs/),
        }),
      ]);
      expect(finished[0].invocationId).toMatch(/^[0-9a-f-]{36}$/);
    } finally {
      await host.stop();
    }
  });
});
