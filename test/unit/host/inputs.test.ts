import { mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { loadHostSettings, timeSpanMs } from '../../../dev/host/host-json';
import { entryPointFiles } from '../../../dev/host/modules';
import { decodeMessageText, parseTriggerValue } from '../../../dev/host/queue-listener';
import { loadLocalSettings, resolveAppSettings } from '../../../dev/host/settings';
import { ConfigError, loadConfig, parseNcrontab } from '../../../shared/config';

const projectRoot = path.resolve(__dirname, '../../..');

describe('the entry point (package.json main)', () => {
  it('maps the app’s main (the compiled entry, which imports every function) back to its source', () => {
    const files = entryPointFiles(projectRoot, true).map((f) => path.relative(projectRoot, f));
    expect(files).toEqual(['functions/index.ts']);
  });

  it('loads main itself when compiled, and says so in the worker’s words when it is missing', () => {
    const root = mkdtempSync(path.join(tmpdir(), 'host-main-'));
    mkdirSync(path.join(root, 'functions'), { recursive: true });
    writeFileSync(path.join(root, 'functions/index.ts'), '');
    const manifest = (main: string) => writeFileSync(path.join(root, 'package.json'), JSON.stringify({ main }));
    manifest('./dist/functions/index.js');
    expect(entryPointFiles(root, true)).toEqual([path.join(root, 'functions/index.ts')]);
    expect(() => entryPointFiles(root, false)).toThrow(
      'Worker was unable to load entry point "./dist/functions/index.js": File does not exist (run the build)',
    );
    mkdirSync(path.join(root, 'dist/functions'), { recursive: true });
    writeFileSync(path.join(root, 'dist/functions/index.js'), '');
    expect(entryPointFiles(root, false)).toEqual([path.join(root, 'dist/functions/index.js')]);
    manifest('dist/functions/other.js');
    expect(() => entryPointFiles(root, true)).toThrow(
      'Worker was unable to load entry point "dist/functions/other.js": File does not exist',
    );
    manifest('');
    expect(() => entryPointFiles(root, false)).toThrow(/No job functions found: .* no "main"/);
  });
});

describe('host.json', () => {
  it('reads the project’s queue settings and applies overrides', () => {
    const settings = loadHostSettings(projectRoot, { extensions: { queues: { visibilityTimeout: '00:00:01' } } });
    expect(settings.routePrefix).toBe('api');
    expect(settings.queues).toMatchObject({ maxDequeueCount: 5, batchSize: 16, visibilityTimeoutMs: 1000 });
  });

  it('parses TimeSpan text and refuses anything else', () => {
    expect(timeSpanMs('00:00:30', 0)).toBe(30_000);
    expect(timeSpanMs('1.02:03:04.5', 0)).toBe(((26 * 60 + 3) * 60 + 4) * 1000 + 500);
    expect(() => timeSpanMs('30s', 0)).toThrow(/TimeSpan/);
  });
});

describe('queue message decoding', () => {
  const b64 = (text: string): string => Buffer.from(text).toString('base64');
  it('decodes base64 and parses JSON like the host', () => {
    expect(parseTriggerValue(decodeMessageText(b64('{"a":1}'), 'base64'))).toEqual({ a: 1 });
    expect(parseTriggerValue(decodeMessageText(b64('42'), 'base64'))).toBe(42);
    expect(parseTriggerValue(decodeMessageText(b64('plain text'), 'base64'))).toBe('plain text');
    expect(parseTriggerValue(decodeMessageText('{"raw":true}', 'none'))).toEqual({ raw: true });
  });
  it('fails binding for text that is not base64', () => {
    expect(() => decodeMessageText('{"a":1}', 'base64')).toThrow(/not valid base64/);
    expect(() => decodeMessageText('abc', 'base64')).toThrow(/not valid base64/);
  });
});

describe('NCRONTAB schedules (read the same way by the app’s settings and the local host)', () => {
  const next = (expression: string, after: string): string =>
    new Date(parseNcrontab(expression).next(Date.parse(after))).toISOString();

  it('reads six fields, seconds first, in UTC', () => {
    expect(next('0 */5 * * * *', '2026-01-01T10:04:59.999Z')).toBe('2026-01-01T10:05:00.000Z');
    expect(next('0 */5 * * * *', '2026-01-01T10:05:00.000Z')).toBe('2026-01-01T10:10:00.000Z');
    // 21 Nov 2026 is a Saturday.
    expect(next('30 0 9 * * 1-5', '2026-11-21T12:00:00Z')).toBe('2026-11-23T09:00:30.000Z');
    expect(next('0 0 9 * * MON-FRI', '2026-11-21T12:00:00Z')).toBe('2026-11-23T09:00:00.000Z');
  });

  it('refuses five fields, values out of range and what NCRONTAB does not read, saying why', () => {
    expect(() => parseNcrontab('*/5 * * * *')).toThrow(/5 fields, not six/);
    expect(() => parseNcrontab('61 * * * * *')).toThrow(/61/);
    expect(() => parseNcrontab('x * * * * *')).toThrow(/"x" is not an NCRONTAB field/);
    expect(() => parseNcrontab('0 0 0 L * *')).toThrow(/"L" is not an NCRONTAB field/);
    expect(() => parseNcrontab('0 0 0 ? * 1#2')).toThrow(/not an NCRONTAB field/);
  });

  it('fails the app’s start naming POLL_SCHEDULE when it is missing or malformed, as the host would', () => {
    const base = {
      AzureWebJobsStorage: 'UseDevelopmentStorage=true',
      PARTNER_CENTER_TENANT_ID: '11111111-2222-3333-4444-555555555555',
      PARTNER_CENTER_CLIENT_ID: '66666666-7777-8888-9999-000000000000',
    };
    expect(loadConfig({ ...base, POLL_SCHEDULE: '0 0 * * * *' }).poll.schedule).toBe('0 0 * * * *');
    // The host resolves the timer's %POLL_SCHEDULE% from the app settings only: unset, it has no schedule at all.
    expect(() => resolveAppSettings('%POLL_SCHEDULE%', {})).toThrow("'%POLL_SCHEDULE%' does not resolve to a value.");
    for (const schedule of [undefined, '', '0 */5 * * * 8', '0 0 0 L * *', '0 0 0 31 2 *']) {
      let error: unknown;
      try {
        loadConfig(schedule === undefined ? base : { ...base, POLL_SCHEDULE: schedule });
      } catch (caught) {
        error = caught;
      }
      expect(error).toBeInstanceOf(ConfigError);
      const why = schedule ? 'NCRONTAB' : 'is required but not set';
      expect(error).toMatchObject({ setting: 'POLL_SCHEDULE', message: expect.stringContaining(why) });
    }
  });

  it('resolves %SETTING% anywhere in a binding property, in the host’s words when it cannot', () => {
    expect(resolveAppSettings('%POLL_SCHEDULE%', { POLL_SCHEDULE: '0 * * * * *' })).toBe('0 * * * * *');
    expect(resolveAppSettings('jobs-%ENV%-%KIND%', { ENV: 'dev', KIND: 'poison' })).toBe('jobs-dev-poison');
    expect(resolveAppSettings('plain', {})).toBe('plain');
    expect(() => resolveAppSettings('%MISSING%', {})).toThrow("'%MISSING%' does not resolve to a value.");
    expect(() => resolveAppSettings('a-%B', { B: 'b' })).toThrow("The '%' at position 2 does not have a closing '%'");
  });
});

describe('local settings', () => {
  it('uses local.settings.json when present, else the sample, with the environment winning', () => {
    const root = mkdtempSync(path.join(tmpdir(), 'host-settings-'));
    writeFileSync(path.join(root, 'local.settings.sample.json'), JSON.stringify({ Values: { A: 'sample', B: 'b' } }));
    expect(loadLocalSettings(root, { B: 'env' }).values).toEqual({ A: 'sample', B: 'env' });
    writeFileSync(path.join(root, 'local.settings.json'), JSON.stringify({ Values: { A: 'own' } }));
    expect(loadLocalSettings(root, {}).values).toEqual({ A: 'own' });
  });
});
