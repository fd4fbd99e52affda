import { execFile } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { writeFunctionsCoreStandIn } from '../../../bench/functions-core-stand-in';
import { QUIET_SCHEDULE } from '../../../dev/stack';
import { buildDeploymentPackage, type DeploymentPackage } from '../../../scripts/package';

export const PROJECT_ROOT = path.resolve(__dirname, '../../..');

export interface BuiltPackage extends DeploymentPackage {
  /** The `@azure/functions-core` stand-in to preload (`node -r`), as the worker provides it. */
  preload: string;
  remove(): void;
}

/**
 * The deployment package, built by the step `npm run build` ends with, into an empty folder under the system's
 * temporary directory: no node_modules above it, so it runs with what it holds, as in Azure.
 */
export async function buildPackageInEmptyFolder(): Promise<BuiltPackage> {
  const root = mkdtempSync(path.join(tmpdir(), 'deployment-package-'));
  const built = await buildDeploymentPackage(PROJECT_ROOT, path.join(root, 'package'));
  const preload = writeFunctionsCoreStandIn(path.join(root, 'worker'));
  return { ...built, preload, remove: () => rmSync(root, { recursive: true, force: true }) };
}

/** Settings that pass validation, and nothing else from this process's environment. */
export const VALID_SETTINGS: Record<string, string> = {
  AzureWebJobsStorage: 'UseDevelopmentStorage=true',
  PARTNER_CENTER_TENANT_ID: '00000000-0000-4000-8000-000000000001',
  PARTNER_CENTER_CLIENT_ID: '00000000-0000-4000-8000-000000000002',
  // Nothing is called: a closed loopback port keeps any accidental call local.
  PARTNER_CENTER_API_URL: 'http://127.0.0.1:9/',
  PARTNER_CENTER_AUTHORITY_HOST: 'http://127.0.0.1:9/',
  POLL_SCHEDULE: QUIET_SCHEDULE,
};

/**
 * Runs `script` (CommonJS) in a fresh `node` process in the package folder, with the stand-in preloaded and only
 * `settings` (plus PATH) as its environment; resolves with the last line it prints, parsed as JSON.
 */
export function runInPackage<T>(pkg: BuiltPackage, script: string, settings: Record<string, string>): Promise<T> {
  return new Promise((resolve, reject) => {
    execFile(
      process.execPath,
      ['-r', pkg.preload, '-e', script],
      { cwd: pkg.dir, env: { PATH: process.env.PATH ?? '', ...settings }, encoding: 'utf8' },
      (error, stdout, stderr) => {
        if (error) return reject(new Error(`${error.message}\n${stderr}`));
        const last = stdout.trim().split('\n').at(-1) ?? '';
        try {
          resolve(JSON.parse(last) as T);
        } catch {
          reject(new Error(`no JSON line from the script: ${stdout}\n${stderr}`));
        }
      },
    );
  });
}

/** Every registration written in the function sources: `app.http('name', ...)`, `app.storageQueue(...)`, ... */
export function registrationsInSources(): string[] {
  const dir = path.join(PROJECT_ROOT, 'functions');
  return readdirSync(dir)
    .filter((file) => file.endsWith('.ts'))
    .flatMap((file) =>
      [...readFileSync(path.join(dir, file), 'utf8').matchAll(/\bapp\.\w+\(\s*'(\w+)'/g)].map((match) => match[1]),
    )
    .sort();
}
