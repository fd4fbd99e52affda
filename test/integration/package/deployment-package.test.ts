import { readFileSync } from 'node:fs';
import path from 'node:path';
import { EXTERNAL_PACKAGES } from '../../../scripts/bundle';
import {
  buildPackageInEmptyFolder,
  PROJECT_ROOT,
  registrationsInSources,
  runInPackage,
  VALID_SETTINGS,
  type BuiltPackage,
} from './deployment-package';

interface Lock {
  packages: Record<string, { dev?: boolean; version?: string }>;
}

const lock = JSON.parse(readFileSync(path.join(PROJECT_ROOT, 'package-lock.json'), 'utf8')) as Lock;
const manifest = JSON.parse(readFileSync(path.join(PROJECT_ROOT, 'package.json'), 'utf8')) as {
  name: string;
  version: string;
  devDependencies: Record<string, string>;
};

/** `node_modules/@scope/name/...` → `node_modules/@scope/name`; nested node_modules kept (`a/node_modules/b`). */
function packageDirOf(file: string): string | undefined {
  return /^((?:node_modules\/(?:@[^/]+\/)?[^/]+\/)*node_modules\/(?:@[^/]+\/)?[^/]+)\//.exec(file)?.[1];
}

/** What the loading script prints: the functions and hooks registered, and the entry's error if it threw. */
interface Loaded {
  functions: string[];
  hooks: string[];
  error?: { name: string; message: string };
}

const LOAD_MAIN = `
const core = globalThis.__functionsCore;
let error;
try { require(require('node:path').resolve(require('./package.json').main)); } catch (e) { error = { name: e.name, message: e.message }; }
console.log(JSON.stringify({ functions: core.functions, hooks: Object.keys(core.hooks), error }));
`;

describe('the deployment package (what azd deploys: dist/package)', () => {
  let pkg: BuiltPackage;

  beforeAll(async () => {
    pkg = await buildPackageInEmptyFolder();
  }, 120_000);

  afterAll(() => pkg?.remove());

  it('holds the bundles, host.json, package.json and the production packages the bundles need: nothing else', () => {
    const topLevel = [...new Set(pkg.files.map((file) => file.split('/')[0]))].sort();
    expect(topLevel).toEqual(['applicationinsights.js', 'host.json', 'main.js', 'node_modules', 'package.json']);
    expect(readFileSync(path.join(pkg.dir, 'host.json'), 'utf8')).toBe(
      readFileSync(path.join(PROJECT_ROOT, 'host.json'), 'utf8'),
    );

    const packages = [...new Set(pkg.files.map(packageDirOf).filter((dir) => dir !== undefined))].sort();
    expect(packages).toEqual(expect.arrayContaining(EXTERNAL_PACKAGES.map((name) => `node_modules/${name}`)));
    for (const dir of packages) {
      // Each is the very package the lock file installs here, and none is a development dependency.
      expect([dir, lock.packages[dir]?.dev ?? false]).toEqual([dir, false]);
      expect(Object.keys(manifest.devDependencies)).not.toContain(dir.replace(/^.*node_modules\//, ''));
      const shipped = JSON.parse(readFileSync(path.join(pkg.dir, dir, 'package.json'), 'utf8')) as { version: string };
      expect([dir, shipped.version]).toEqual([dir, lock.packages[dir]?.version]);
    }
    // The development folders of the project are nowhere in it.
    for (const file of pkg.files) expect(file).not.toMatch(/^(dev|test|bench|scripts|infra|functions|shared|docs)\//);
  });

  it('has a package.json that names the bundle as main and depends only on what the bundle leaves external', () => {
    const shipped = JSON.parse(readFileSync(path.join(pkg.dir, 'package.json'), 'utf8')) as Record<string, unknown>;
    expect(shipped).toMatchObject({ name: manifest.name, version: manifest.version, main: 'main.js' });
    expect(Object.keys(shipped.dependencies as object)).toEqual(EXTERNAL_PACKAGES);
    expect(shipped).not.toHaveProperty('devDependencies');
    expect(shipped).not.toHaveProperty('scripts');
  });

  it('leaves Application Insights to a bundle of its own, and @azure/functions to its package', () => {
    const code = readFileSync(path.join(pkg.dir, 'main.js'), 'utf8');
    expect(code).toContain('require("./applicationinsights.js")');
    expect(code).not.toMatch(/require\("applicationinsights"\)/);
    expect(code).toMatch(/require\("@azure\/functions"\)/);
  });

  it('stays within 20 MB unpacked', () => {
    expect(pkg.bytes).toBeLessThanOrEqual(20 * 1024 * 1024);
  });

  it('loads in an empty folder and registers every function of the sources, and the appTerminate hook', async () => {
    const loaded = await runInPackage<Loaded>(pkg, LOAD_MAIN, VALID_SETTINGS);
    expect(loaded.error).toBeUndefined();
    expect([...loaded.functions].sort()).toEqual(registrationsInSources());
    expect(loaded.hooks).toContain('appTerminate');
  });

  it.each([
    ['missing', { PARTNER_CENTER_TENANT_ID: '' }, /PARTNER_CENTER_TENANT_ID is required/],
    // The host resolves the timer's %POLL_SCHEDULE% from the app settings only: the app has no default either.
    ['missing', { POLL_SCHEDULE: '' }, /POLL_SCHEDULE is required/],
    ['malformed', { POLL_RATE_PER_SECOND: 'fast' }, /POLL_RATE_PER_SECOND must be a number/],
  ])(
    'fails to load with a %s setting named, after registering the functions (so the worker reports the entry point as failed)',
    async (_kind, change, message) => {
      const loaded = await runInPackage<Loaded>(pkg, LOAD_MAIN, { ...VALID_SETTINGS, ...change });
      expect(loaded.error).toEqual({ name: 'ConfigError', message: expect.stringMatching(message) });
      // The worker marks an app as programming model v4, and then reports a throwing entry point, only once a
      // function has been registered; before that the same error leaves an app with zero functions and no error.
      expect([...loaded.functions].sort()).toEqual(registrationsInSources());
    },
  );
});
