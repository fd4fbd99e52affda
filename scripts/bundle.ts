import path from 'node:path';
import { build, type BuildOptions, type Plugin } from 'esbuild';

/**
 * The bundles the deployment package runs (scripts/package.ts): the app's entry and everything it imports in one
 * CommonJS file, so that the worker reads one file instead of resolving and reading some 2,000 (the Azure SDKs, and
 * the OpenTelemetry distro behind Application Insights), which is most of a cold start (bench/README.md, "Cold
 * start"); and Application Insights in a bundle of its own beside it.
 */

/** The app's entry: it imports every function module, then validates the settings. */
export const APP_ENTRY = 'functions/index.ts';

/**
 * Packages the bundle leaves to `require` at run time, which the deployment package therefore ships as packages.
 * `@azure/functions` stays one package so that the app and whoever hosts it (the worker, or the local host that
 * records the registrations) share one `app` object.
 */
export const EXTERNAL_PACKAGES = ['@azure/functions'];

/** Injected by the Node worker at run time; never installed. */
const INJECTED_BY_THE_WORKER = ['@azure/functions-core'];

/** The main bundle's file name in the package. */
export const MAIN_BUNDLE = 'main.js';

/** What every bundle here shares. */
const NODE_BUNDLE: BuildOptions = {
  bundle: true,
  platform: 'node',
  // Azure runs Node 22 (infra/app/api.bicep); package.json `engines` says the same.
  target: 'node22',
  format: 'cjs',
  // Whitespace and syntax only: identifiers and function names stay readable in stack traces and telemetry.
  minifyWhitespace: true,
  minifySyntax: true,
  keepNames: true,
  // Some dependencies are ESM that call createRequire(import.meta.url); in a CommonJS bundle that is this file.
  define: { 'import.meta.url': '__bundleFileUrl' },
  banner: { js: "var __bundleFileUrl = require('node:url').pathToFileURL(__filename).href;" },
  logLevel: 'warning',
};

export function bundleOptions(appRoot: string, outfile: string): BuildOptions {
  const entry = `./${APP_ENTRY.replace(/\.ts$/, '')}`;
  return {
    stdin: {
      contents:
        `require('${entry}');\n` +
        // The cold-start benchmark and the package test call it as the first invocation would; the worker ignores
        // main's exports.
        "module.exports.getServices = require('./shared/services').getServices;\n",
      resolveDir: appRoot,
      loader: 'ts',
      sourcefile: 'functions-bundle-entry.ts',
    },
    ...NODE_BUNDLE,
    external: [...INJECTED_BY_THE_WORKER, ...EXTERNAL_PACKAGES],
    outfile,
    plugins: [lazySdkPlugin],
  };
}

/**
 * Packages the app loads only on demand (`require` inside a function) get a bundle of their own next to the main
 * one: Application Insights (the OpenTelemetry distro, three quarters of all the code) is loaded only when its
 * connection string is set, and the main bundle should not make every start parse it.
 */
const LAZY_SDKS: Record<string, string> = { applicationinsights: 'applicationinsights.js' };

const lazySdkPlugin: Plugin = {
  name: 'lazy-sdks',
  setup(build) {
    const names = Object.keys(LAZY_SDKS).map((name) => name.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&'));
    build.onResolve({ filter: new RegExp(`^(${names.join('|')})$`) }, (args) =>
      args.kind === 'require-call' ? { path: `./${LAZY_SDKS[args.path]}`, external: true } : undefined,
    );
  },
};

function lazySdkOptions(appRoot: string, outDir: string, name: string, file: string): BuildOptions {
  return {
    ...NODE_BUNDLE,
    stdin: { contents: `module.exports = require('${name}');`, resolveDir: appRoot, sourcefile: `${name}-entry.js` },
    outfile: path.join(outDir, file),
  };
}

/** Builds the main bundle and the lazy SDK bundles into `outDir`; returns the files written, main first. */
export async function buildFunctionsBundle(appRoot: string, outDir: string): Promise<string[]> {
  const main = path.join(outDir, MAIN_BUNDLE);
  const lazy = Object.entries(LAZY_SDKS).map(([name, file]) => ({ name, file: path.join(outDir, file) }));
  await Promise.all([
    build(bundleOptions(appRoot, main)),
    ...lazy.map(({ name, file }) => build(lazySdkOptions(appRoot, outDir, name, path.basename(file)))),
  ]);
  return [main, ...lazy.map(({ file }) => file)];
}
