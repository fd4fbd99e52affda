import { fork } from 'node:child_process';
import { execFileSync } from 'node:child_process';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { mkdirSync, readdirSync, statSync, writeFileSync, existsSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { readFunctionsBundle } from '../dev/host/modules';
import { Repeats, type Figure } from './stats';

export interface ColdStartCase {
  repeats: number;
  /** Also measure the shipped bundle (package.json `main`), against the tsc output of the same sources. */
  bundle: boolean;
}

export interface ColdStartResult {
  figures: Record<string, Figure>;
  functionsRegistered: Record<string, number>;
  packageBytes: {
    distApp: number;
    productionNodeModules: number;
    productionPackages: number;
    total: number;
    bundle?: number;
  };
  bundleError?: string;
}

const ROOT = path.resolve(__dirname, '..', '..');
const CHILD = path.join(__dirname, 'cold-start-child.js');

/**
 * What the Functions host provides as `@azure/functions-core`: just enough for @azure/functions to register the
 * functions (counted) instead of falling back to its "test mode".
 */
const FUNCTIONS_CORE_STAND_IN = `
const g = globalThis;
g.__benchRegistered = 0;
module.exports = {
  setProgrammingModel() {},
  getProgrammingModel() { return undefined; },
  registerFunction() { g.__benchRegistered++; return { dispose() {} }; },
  registerHook() { return { dispose() {} }; },
  log() {},
};
`;

function standInPath(): string {
  const dir = path.join(os.tmpdir(), 'bench-functions-core', 'node_modules', '@azure', 'functions-core');
  mkdirSync(dir, { recursive: true });
  writeFileSync(path.join(dir, 'index.js'), FUNCTIONS_CORE_STAND_IN);
  writeFileSync(path.join(dir, 'package.json'), JSON.stringify({ name: '@azure/functions-core', main: 'index.js' }));
  return path.join(os.tmpdir(), 'bench-functions-core', 'node_modules');
}

interface ChildTimes {
  bootMs: number;
  loadMs: number;
  servicesMs: number;
  totalMs: number;
  registered: number;
}

function runChild(args: string[], env: Record<string, string>): Promise<ChildTimes> {
  return new Promise((resolve, reject) => {
    const child = fork(CHILD, args, {
      env: { ...minimalEnv(), ...env },
      stdio: ['ignore', 'ignore', 'pipe', 'ipc'],
    });
    let result: ChildTimes | undefined;
    let stderr = '';
    child.stderr?.on('data', (d: Buffer) => (stderr += d.toString()));
    child.on('message', (m) => (result = m as ChildTimes));
    child.on('exit', (code) => {
      if (code === 0 && result) resolve(result);
      else reject(new Error(`cold-start child exited ${code}: ${stderr.slice(-1500)}`));
    });
  });
}

/** Only what a worker needs: no inherited settings from the shell. */
function minimalEnv(): Record<string, string> {
  const keep = ['PATH', 'HOME', 'TMPDIR', 'LANG'];
  return Object.fromEntries(keep.filter((k) => process.env[k]).map((k) => [k, process.env[k]!]));
}

/** A loopback stand-in for the Application Insights ingestion endpoint: accepts every envelope. */
async function startIngestion(): Promise<{ url: string; server: Server }> {
  const server = createServer((req, res) => {
    req.resume();
    req.on('end', () => {
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end('{"itemsReceived":0,"itemsAccepted":0,"errors":[]}');
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return { url: `http://127.0.0.1:${(server.address() as AddressInfo).port}/`, server };
}

function appFiles(): string[] {
  const dir = path.join(ROOT, 'dist', 'functions');
  return readdirSync(dir)
    .filter((f) => f.endsWith('.js'))
    .sort()
    .map((f) => path.join(dir, f));
}

/** Bytes of every file under `dir`, skipping nested node_modules (each installed package is counted once). */
function dirBytes(dir: string, skip: (name: string) => boolean = () => false): number {
  let total = 0;
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    if (skip(entry.name)) continue;
    const full = path.join(dir, entry.name);
    if (entry.isDirectory()) total += entry.name === 'node_modules' ? 0 : dirBytes(full, skip);
    else if (entry.isFile()) total += statSync(full).size;
  }
  return total;
}

function packageSizes(): { distApp: number; productionNodeModules: number; productionPackages: number } {
  const noMaps = (name: string) => name.endsWith('.map');
  const distApp =
    dirBytes(path.join(ROOT, 'dist', 'functions'), noMaps) + dirBytes(path.join(ROOT, 'dist', 'shared'), noMaps);
  let listing: string;
  try {
    listing = execFileSync('npm', ['ls', '--omit=dev', '--all', '--parseable'], {
      cwd: ROOT,
      encoding: 'utf8',
      stdio: ['ignore', 'pipe', 'ignore'],
    });
  } catch (error) {
    // npm ls exits non-zero on extraneous or invalid packages but still lists what is installed.
    const stdout = (error as { stdout?: unknown }).stdout;
    listing = typeof stdout === 'string' ? stdout : '';
  }
  const packages = [
    ...new Set(listing.split('\n').filter((line) => line.includes(`${path.sep}node_modules${path.sep}`))),
  ];
  const productionNodeModules = packages.reduce((sum, dir) => sum + (existsSync(dir) ? dirBytes(dir) : 0), 0);
  return { distApp, productionNodeModules, productionPackages: packages.length };
}

/** The bundle package.json `main` names (scripts/bundle.ts, built by `npm run build`). */
function shippedBundle(): string {
  const bundle = readFunctionsBundle(ROOT);
  if (!bundle) throw new Error('package.json has no "functionsBundle": nothing to measure');
  const file = path.join(ROOT, bundle.outfile);
  if (!existsSync(file)) throw new Error(`${bundle.outfile} is missing: run npm run build`);
  return file;
}

export async function benchColdStart(
  spec: ColdStartCase,
  appSettings: Record<string, string>,
  log: (line: string) => void,
): Promise<ColdStartResult> {
  const nodePath = standInPath();
  const ingestion = await startIngestion();
  try {
    const plain = { ...appSettings, NODE_PATH: nodePath };
    const telemetry = {
      ...plain,
      APPLICATIONINSIGHTS_CONNECTION_STRING:
        `InstrumentationKey=00000000-0000-0000-0000-000000000001;IngestionEndpoint=${ingestion.url};` +
        `LiveEndpoint=${ingestion.url}`,
      APPLICATION_INSIGHTS_NO_STATSBEAT: 'true',
      APPLICATIONINSIGHTS_STATSBEAT_DISABLED_ALL: 'true',
      OTEL_NODE_RESOURCE_DETECTORS: 'env,host,os',
    };
    const files = appFiles();
    const servicesModule = path.join(ROOT, 'dist', 'shared', 'services.js');
    const variants: { name: string; args: string[]; env: Record<string, string> }[] = [
      { name: 'tsc', args: [servicesModule, ...files], env: plain },
      { name: 'tscTelemetry', args: [servicesModule, ...files], env: telemetry },
    ];
    let bundleBytes: number | undefined;
    let bundleError: string | undefined;
    if (spec.bundle) {
      try {
        const bundle = shippedBundle();
        // The main bundle and the lazily loaded SDK bundles beside it.
        const dir = path.dirname(bundle);
        bundleBytes = readdirSync(dir)
          .filter((f) => f.endsWith('.js'))
          .reduce((sum, f) => sum + statSync(path.join(dir, f)).size, 0);
        variants.push({ name: 'bundle', args: [bundle, bundle], env: plain });
        variants.push({ name: 'bundleTelemetry', args: [bundle, bundle], env: telemetry });
      } catch (error) {
        bundleError = error instanceof Error ? error.message : String(error);
      }
    }
    const repeats = new Repeats();
    const registered: Record<string, number> = {};
    // Interleaved, so a change in machine load during the measurement hits every variant alike.
    for (let run = 0; run < spec.repeats; run++) {
      for (const variant of variants) {
        try {
          const times = await runChild(variant.args, variant.env);
          registered[variant.name] = times.registered;
          repeats.add({
            [`${variant.name}EntryLoadMs`]: times.loadMs,
            [`${variant.name}ServicesMs`]: times.servicesMs,
            [`${variant.name}ReadyFromProcessStartMs`]: times.totalMs,
            [`${variant.name}NodeBootMs`]: times.bootMs,
          });
        } catch (error) {
          if (variant.name.startsWith('bundle')) bundleError ??= error instanceof Error ? error.message : String(error);
          else throw error;
        }
      }
    }
    const sizes = packageSizes();
    const figures = repeats.figures(1);
    log(
      `  cold start: entry load ${figures.tscEntryLoadMs?.median} ms (tsc), ${figures.bundleEntryLoadMs?.median ?? '-'} ms (bundle); ` +
        `with telemetry ready at ${figures.tscTelemetryReadyFromProcessStartMs?.median} ms`,
    );
    return {
      figures,
      functionsRegistered: registered,
      packageBytes: { ...sizes, total: sizes.distApp + sizes.productionNodeModules, bundle: bundleBytes },
      bundleError,
    };
  } finally {
    ingestion.server.close();
  }
}
