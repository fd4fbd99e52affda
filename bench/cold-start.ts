import { execFileSync, fork } from 'node:child_process';
import { cpSync, existsSync, mkdtempSync, readdirSync, rmSync, statSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { listFiles, PACKAGE_DIR } from '../scripts/package';
import { writeFunctionsCoreStandIn } from './functions-core-stand-in';
import { Repeats, type Figure } from './stats';

export interface ColdStartCase {
  repeats: number;
  /** Also measure the deployment package `npm run build` made (dist/package), against the tsc output. */
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
    /** The deployment package (dist/package): what azd deploys. */
    deploymentPackage?: { bytes: number; files: number; packages: number };
  };
  bundleError?: string;
}

const ROOT = path.resolve(__dirname, '..', '..');
const CHILD = path.join(__dirname, 'cold-start-child.js');

interface ChildTimes {
  bootMs: number;
  loadMs: number;
  servicesMs: number;
  totalMs: number;
  registered: number;
}

function runChild(preload: string, args: string[], env: Record<string, string>): Promise<ChildTimes> {
  return new Promise((resolve, reject) => {
    const child = fork(CHILD, args, {
      execArgv: ['-r', preload],
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

/** What a remote build deployed (until the prebuilt package): the compiled app and every production package. */
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

/**
 * A copy of the deployment package `npm run build` made, in an empty folder outside the project (so that nothing
 * resolves from the project's node_modules), as Azure runs it; its main bundle, and its size.
 */
function deploymentPackageCopy(into: string): { main: string; bytes: number; files: number; packages: number } {
  const built = path.join(ROOT, PACKAGE_DIR);
  if (!existsSync(path.join(built, 'package.json'))) throw new Error(`${PACKAGE_DIR} is missing: run npm run build`);
  const dir = path.join(into, 'package');
  cpSync(built, dir, { recursive: true });
  const files = listFiles(dir);
  const packages = new Set(
    files.map((f) => /^node_modules\/((?:@[^/]+\/)?[^/]+)\//.exec(f)?.[1]).filter((name) => name !== undefined),
  );
  const bytes = files.reduce((sum, f) => sum + statSync(path.join(dir, f)).size, 0);
  return { main: path.join(dir, 'main.js'), bytes, files: files.length, packages: packages.size };
}

export async function benchColdStart(
  spec: ColdStartCase,
  appSettings: Record<string, string>,
  log: (line: string) => void,
): Promise<ColdStartResult> {
  const scratch = mkdtempSync(path.join(os.tmpdir(), 'bench-cold-start-'));
  const preload = writeFunctionsCoreStandIn(scratch);
  const ingestion = await startIngestion();
  try {
    const plain = { ...appSettings };
    const telemetry = {
      ...plain,
      APPLICATIONINSIGHTS_CONNECTION_STRING:
        `InstrumentationKey=00000000-0000-0000-0000-000000000001;IngestionEndpoint=${ingestion.url};` +
        `LiveEndpoint=${ingestion.url}`,
      APPLICATION_INSIGHTS_NO_STATSBEAT: 'true',
      APPLICATIONINSIGHTS_STATSBEAT_DISABLED_ALL: 'true',
      OTEL_NODE_RESOURCE_DETECTORS: 'env,host,os',
    };
    // package.json `main`: the tsc output's entry, which imports every function module.
    const entry = path.join(ROOT, 'dist', 'functions', 'index.js');
    const servicesModule = path.join(ROOT, 'dist', 'shared', 'services.js');
    const variants: { name: string; args: string[]; env: Record<string, string> }[] = [
      { name: 'tsc', args: [servicesModule, entry], env: plain },
      { name: 'tscTelemetry', args: [servicesModule, entry], env: telemetry },
    ];
    let deploymentPackage: { bytes: number; files: number; packages: number } | undefined;
    let bundleError: string | undefined;
    if (spec.bundle) {
      try {
        const { main: bundle, ...size } = deploymentPackageCopy(scratch);
        deploymentPackage = size;
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
          const times = await runChild(preload, variant.args, variant.env);
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
      `  cold start: entry load ${figures.tscEntryLoadMs?.median} ms (tsc), ${figures.bundleEntryLoadMs?.median ?? '-'} ms (package); ` +
        `with telemetry ready at ${figures.tscTelemetryReadyFromProcessStartMs?.median} ms`,
    );
    return {
      figures,
      functionsRegistered: registered,
      packageBytes: { ...sizes, total: sizes.distApp + sizes.productionNodeModules, deploymentPackage },
      bundleError,
    };
  } finally {
    ingestion.server.close();
    rmSync(scratch, { recursive: true, force: true });
  }
}
