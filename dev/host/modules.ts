import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { appRegistry, installRegistrationCapture, type FunctionRegistry } from './registry';

/**
 * Loading the app the way the Node worker does: package.json `main` names the entry point (one file, which imports
 * every function module), the worker requires it, and the functions are whatever it registered. A load that throws or
 * registers nothing fails, in the worker's and the host's words, naming the cause.
 */

function readMain(appRoot: string): unknown {
  return (JSON.parse(readFileSync(path.join(appRoot, 'package.json'), 'utf8')) as { main?: unknown }).main;
}

/** `dist/functions/index.js` → `functions/index.ts`: the tsc output (outDir `dist`, rootDir `.`) back to its source. */
export function sourceOf(main: string): string {
  return main.replace(/^(\.\/)?dist\//, '').replace(/\.js$/, '.ts');
}

/**
 * The file to require: `main` itself (the compiled entry, which imports every function module), or, when the host
 * runs from TypeScript sources (jest), the source `main` is compiled from.
 */
export function entryPointFiles(appRoot: string, fromSources: boolean): string[] {
  const main = readMain(appRoot);
  if (typeof main !== 'string' || main.trim() === '') {
    throw new Error(`No job functions found: package.json in ${appRoot} has no "main" naming the entry point`);
  }
  const entry = fromSources ? sourceOf(main.trim()) : main.trim();
  const file = path.join(appRoot, entry);
  if (!existsSync(file)) {
    throw new Error(
      `Worker was unable to load entry point "${main}": File does not exist` + (fromSources ? '' : ' (run the build)'),
    );
  }
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
