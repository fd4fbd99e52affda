import { cpSync, existsSync, mkdirSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { buildFunctionsBundle, EXTERNAL_PACKAGES, MAIN_BUNDLE } from './bundle';

/**
 * The last step of `npm run build`: the deployment package, a folder that azd zips and deploys as it is (azure.yaml:
 * `dist: dist/package`, `remoteBuild: false`; docs/deploy.md says why). It holds what runs and nothing else:
 *
 * - `main.js` and `applicationinsights.js`, the bundles (scripts/bundle.ts);
 * - `host.json`;
 * - `package.json`: name and version (the app reports them), `main`, and as dependencies only the packages the
 *   bundles leave external, at the versions installed here;
 * - `node_modules/`: those packages and their production dependencies, copied from this project's node_modules, so
 *   the package runs exactly the versions the tests ran.
 */

const PROJECT_ROOT = path.resolve(__dirname, __filename.endsWith('.ts') ? '..' : '../..');

export const PACKAGE_DIR = path.join('dist', 'package');

export interface DeploymentPackage {
  dir: string;
  /** Every file, relative to `dir`, with `/` separators, sorted. */
  files: string[];
  bytes: number;
}

interface Manifest {
  name: string;
  version: string;
  description?: string;
  license?: string;
  dependencies?: Record<string, string>;
  optionalDependencies?: Record<string, string>;
}

function readManifest(dir: string): Manifest {
  return JSON.parse(readFileSync(path.join(dir, 'package.json'), 'utf8')) as Manifest;
}

/** Where Node finds package `name` from `fromDir`: the nearest `node_modules/<name>` upward, not above `root`. */
function findPackage(name: string, fromDir: string, root: string): string | undefined {
  for (let dir = fromDir; ; dir = path.dirname(dir)) {
    const candidate = path.join(dir, 'node_modules', name);
    if (existsSync(path.join(candidate, 'package.json'))) return candidate;
    if (dir === root || path.dirname(dir) === dir) return undefined;
  }
}

/**
 * The installed packages `names` need at run time: each one and, transitively, its `dependencies` (and the
 * `optionalDependencies` that are installed), resolved the way Node resolves them. Directories relative to `root`.
 * Hand-written because npm has no command that installs part of a lock file from an existing node_modules; this
 * copies what is installed instead of asking the registry again.
 */
export function productionClosure(root: string, names: string[]): string[] {
  const found = new Set<string>();
  const visit = (name: string, fromDir: string, optional: boolean): void => {
    const dir = findPackage(name, fromDir, root);
    if (!dir) {
      if (optional) return;
      throw new Error(`package ${name} (needed from ${path.relative(root, fromDir) || '.'}) is not installed`);
    }
    if (found.has(dir)) return;
    found.add(dir);
    const manifest = readManifest(dir);
    for (const dependency of Object.keys(manifest.dependencies ?? {})) visit(dependency, dir, false);
    for (const dependency of Object.keys(manifest.optionalDependencies ?? {})) visit(dependency, dir, true);
  };
  for (const name of names) visit(name, root, false);
  return [...found].map((dir) => path.relative(root, dir)).sort();
}

/** Every file under `dir`, relative to it with `/` separators, sorted. */
export function listFiles(dir: string, prefix = ''): string[] {
  return readdirSync(dir, { withFileTypes: true })
    .flatMap((entry) => {
      const relative = prefix ? `${prefix}/${entry.name}` : entry.name;
      return entry.isDirectory() ? listFiles(path.join(dir, entry.name), relative) : [relative];
    })
    .sort();
}

/** Builds the package into `outDir` (emptied first) from the sources and the installed packages of `appRoot`. */
export async function buildDeploymentPackage(
  appRoot: string = PROJECT_ROOT,
  outDir: string = path.join(appRoot, PACKAGE_DIR),
): Promise<DeploymentPackage> {
  rmSync(outDir, { recursive: true, force: true });
  mkdirSync(outDir, { recursive: true });
  await buildFunctionsBundle(appRoot, outDir);
  cpSync(path.join(appRoot, 'host.json'), path.join(outDir, 'host.json'));

  const packages = productionClosure(appRoot, EXTERNAL_PACKAGES);
  for (const relative of packages) {
    const from = path.join(appRoot, relative);
    // A package's own node_modules holds other packages: each is copied only when it is in the closure.
    cpSync(from, path.join(outDir, relative), {
      recursive: true,
      dereference: true,
      filter: (source) => path.relative(from, source).split(path.sep)[0] !== 'node_modules',
    });
  }

  const app = readManifest(appRoot);
  const manifest = {
    name: app.name,
    version: app.version,
    description: app.description,
    license: app.license,
    private: true,
    main: MAIN_BUNDLE,
    dependencies: Object.fromEntries(
      EXTERNAL_PACKAGES.map((name) => [name, readManifest(path.join(appRoot, 'node_modules', name)).version]),
    ),
  };
  writeFileSync(path.join(outDir, 'package.json'), `${JSON.stringify(manifest, null, 2)}\n`);

  const files = listFiles(outDir);
  const bytes = files.reduce((sum, file) => sum + statSync(path.join(outDir, file)).size, 0);
  return { dir: outDir, files, bytes };
}

if (require.main === module) {
  buildDeploymentPackage().then(
    ({ dir, files, bytes }) =>
      console.log(
        `deployment package: ${path.relative(process.cwd(), dir)} (${files.length} files, ${(bytes / 1e6).toFixed(1)} MB)`,
      ),
    (error: unknown) => {
      console.error(error instanceof Error ? error.message : error);
      process.exitCode = 1;
    },
  );
}
