import { mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { loadHostSettings, timeSpanMs } from '../../../dev/host/host-json';
import { expandBraces, functionModulePaths } from '../../../dev/host/modules';
import { parseSchedule, resolveSchedule } from '../../../dev/host/ncrontab';
import { decodeMessageText, parseTriggerValue } from '../../../dev/host/queue-message';
import { loadLocalSettings } from '../../../dev/host/settings';

const projectRoot = path.resolve(__dirname, '../../..');

describe('function module discovery (package.json main)', () => {
  it('maps the app’s main (the compiled entry, which imports every function) back to its source', () => {
    const files = functionModulePaths(projectRoot, true).map((f) => path.relative(projectRoot, f));
    expect(files).toEqual(['functions/index.ts']);
  });

  it('maps a compiled glob to the TypeScript sources; a bundle that main does not name is ignored', () => {
    const root = mkdtempSync(path.join(tmpdir(), 'host-main-'));
    mkdirSync(path.join(root, 'functions'), { recursive: true });
    for (const f of ['functions/a.ts', 'functions/index.ts', 'functions/a.d.ts']) writeFileSync(path.join(root, f), '');
    const manifest = (main: string, functionsBundle?: unknown) =>
      writeFileSync(path.join(root, 'package.json'), JSON.stringify({ main, functionsBundle }));
    manifest('dist/functions/*.js', { entry: 'functions/*.ts', outfile: 'dist/main.js' });
    expect(functionModulePaths(root, true).map((f) => path.relative(root, f))).toEqual([
      'functions/a.ts',
      'functions/index.ts',
    ]);
    manifest('./dist/main.js', { entry: 'functions/*.ts', outfile: 'dist/main.js' });
    expect(functionModulePaths(root, true).map((f) => path.relative(root, f))).toEqual([
      'functions/index.ts',
      'functions/a.ts',
    ]);
    // Running the build: the bundle itself.
    expect(() => functionModulePaths(root, false)).toThrow(/matches no file .*run the build/);
    manifest('dist/main.js', { entry: 'functions/*.ts' });
    expect(() => functionModulePaths(root, true)).toThrow(/"functionsBundle" needs "entry" and "outfile"/);
  });

  it('expands braces and stars like the Functions host glob', () => {
    expect(expandBraces('dist/src/{index.js,functions/*.js}')).toEqual([
      'dist/src/index.js',
      'dist/src/functions/*.js',
    ]);
    const root = mkdtempSync(path.join(tmpdir(), 'host-main-'));
    mkdirSync(path.join(root, 'dist/src/functions'), { recursive: true });
    for (const f of ['dist/src/index.js', 'dist/src/functions/a.js', 'dist/src/functions/b.js', 'dist/src/x.js']) {
      writeFileSync(path.join(root, f), '');
    }
    writeFileSync(path.join(root, 'package.json'), JSON.stringify({ main: 'dist/src/{index.js,functions/*.js}' }));
    expect(functionModulePaths(root, false).map((f) => path.relative(root, f))).toEqual([
      'dist/src/functions/a.js',
      'dist/src/functions/b.js',
      'dist/src/index.js',
    ]);
    writeFileSync(path.join(root, 'package.json'), JSON.stringify({ main: 'dist/none/*.js' }));
    expect(() => functionModulePaths(root, false)).toThrow(/matches no file/);
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

describe('NCRONTAB schedules', () => {
  it('reads six fields, seconds first, in UTC', () => {
    const schedule = parseSchedule('0 */5 * * * *');
    expect(schedule.next(new Date('2026-01-01T10:04:59.999Z')).toISOString()).toBe('2026-01-01T10:05:00.000Z');
    expect(schedule.next(new Date('2026-01-01T10:05:00.000Z')).toISOString()).toBe('2026-01-01T10:10:00.000Z');
    expect(parseSchedule('30 0 9 * * 1-5').next(new Date('2026-11-21T12:00:00Z')).toISOString()).toBe(
      '2026-11-23T09:00:30.000Z', // 21 Nov 2026 is a Saturday
    );
  });
  it('refuses five-field and malformed expressions, and resolves %SETTING%', () => {
    expect(() => parseSchedule('*/5 * * * *')).toThrow(/six-field/);
    expect(() => parseSchedule('x * * * * *')).toThrow(/not a valid NCRONTAB/);
    expect(resolveSchedule('%POLL_SCHEDULE%', { POLL_SCHEDULE: '0 * * * * *' })).toBe('0 * * * * *');
    expect(() => resolveSchedule('%MISSING%', {})).toThrow(/MISSING/);
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
