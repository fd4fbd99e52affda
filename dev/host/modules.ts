import { existsSync, readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { appRegistry, installRegistrationCapture, type FunctionRegistry } from './registry';

/**
 * Loading the app the way the Node worker does: package.json `main` names the entry point (here one file: the bundle
 * `npm run build` makes), the worker requires it, and the functions are whatever it registered. A load that throws or
 * registers nothing fails, in the worker's and the host's words, naming the cause.
 */

/** package.json `functionsBundle`: the function sources (`entry`, `dir/*.ts`) and the bundle built from them (`outfile`). */
export interface FunctionsBundle {
  entry: string;
  outfile: string;
}

function readManifest(appRoot: string): { main?: unknown; functionsBundle?: unknown } {
  return JSON.parse(readFileSync(path.join(appRoot, 'package.json'), 'utf8')) as {
    main?: unknown;
    functionsBundle?: unknown;
  };
}

export function readFunctionsBundle(appRoot: string): FunctionsBundle | undefined {
  const bundle = readManifest(appRoot).functionsBundle;
  if (bundle === undefined) return undefined;
  const { entry, outfile } = (bundle ?? {}) as Partial<FunctionsBundle>;
  if (typeof entry !== 'string' || typeof outfile !== 'string') {
    throw new Error(`package.json in ${appRoot}: "functionsBundle" needs "entry" and "outfile" strings`);
  }
  return { entry, outfile };
}

/**
 * The sources a bundle is built from, in the order it runs them: `index` first (it validates the settings), then by
 * name. `entry` is a folder and a file pattern with one `*` (`functions/*.ts`), all the project needs.
 */
export function bundleSources(appRoot: string, entry: string): string[] {
  const folder = path.posix.dirname(entry);
  const [before, after, ...rest] = path.posix.basename(entry).split('*');
  if (folder.includes('*') || after === undefined || rest.length > 0) {
    throw new Error(`functionsBundle.entry (${entry}) must be a folder and a file pattern with one "*"`);
  }
  const names = readdirSync(path.join(appRoot, folder)).filter(
    (name) => name.startsWith(before) && name.endsWith(after) && !name.endsWith('.d.ts'),
  );
  if (names.length === 0) throw new Error(`functionsBundle.entry (${entry}) matches no file under ${appRoot}`);
  return names
    .sort((a, b) => indexFirst(a) - indexFirst(b) || a.localeCompare(b))
    .map((name) => path.join(appRoot, folder, name));
}

function indexFirst(file: string): number {
  return /^index\.[cm]?[jt]s$/.test(file) ? 0 : 1;
}

/**
 * The files to require: `main` itself, or, when the host runs from TypeScript sources (jest), the sources the bundle
 * that `main` names is built from.
 */
export function entryPointFiles(appRoot: string, fromSources: boolean): string[] {
  const main = readManifest(appRoot).main;
  if (typeof main !== 'string' || main.trim() === '') {
    throw new Error(`No job functions found: package.json in ${appRoot} has no "main" naming the entry point`);
  }
  if (fromSources) {
    const bundle = readFunctionsBundle(appRoot);
    if (!bundle || path.posix.normalize(bundle.outfile) !== path.posix.normalize(main.trim())) {
      throw new Error(`package.json in ${appRoot}: "main" must be the "functionsBundle" outfile to run from sources`);
    }
    return bundleSources(appRoot, bundle.entry);
  }
  const file = path.join(appRoot, main.trim());
  if (!existsSync(file))
    throw new Error(`Worker was unable to load entry point "${main}": File does not exist (run the build)`);
  return [file];
}

/** Requires the entry point with the registration capture in place; returns what it registered. */
export function loadApp(appRoot: string, fromSources: boolean): FunctionRegistry {
  installRegistrationCapture();
  for (const file of entryPointFiles(appRoot, fromSources)) {
    try {
      // require, not import(): the list is known only at run time, and jest resolves require through its registry.
      // eslint-disable-next-line @typescript-eslint/no-require-imports
      require(file);
    } catch (error) {
      const cause = error instanceof Error ? error.message : String(error);
      throw new Error(`Worker was unable to load entry point "${path.relative(appRoot, file)}": ${cause}`, {
        cause: error,
      });
    }
  }
  if (appRegistry.registrations.length === 0) {
    throw new Error(
      'No job functions found: the entry point registered no function (were the function modules imported before ' +
        'installRegistrationCapture() ran? In jest, keep test/helpers/capture-registrations.ts in setupFiles)',
    );
  }
  return appRegistry;
}
