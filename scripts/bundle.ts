import path from 'node:path';
import { build, type BuildOptions, type Plugin } from 'esbuild';
import { bundleSources, readFunctionsBundle, type FunctionsBundle } from '../dev/host/modules';

/**
 * Builds the file the Functions worker loads (package.json `main`): every function module in one CommonJS bundle.
 * The worker then reads one file instead of resolving and reading some 2,000 (the Azure SDKs, and the OpenTelemetry
 * distro behind Application Insights), which is most of a cold start (bench/README.md, "Cold start").
 *
 * package.json `functionsBundle` says what and where: `entry`, a glob of the function sources (all of them are
 * imported, `index.ts` first so the settings are validated before anything registers), and `outfile`, the file
 * `main` names. The local host reads the same field to run the sources under jest (dev/host/modules.ts).
 */

const PROJECT_ROOT = path.resolve(__dirname, __filename.endsWith('.ts') ? '..' : '../..');

/** What every bundle here shares. */
const NODE_BUNDLE: BuildOptions = {
  bundle: true,
  platform: 'node',
  target: 'node20',
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

export function bundleOptions(appRoot: string, bundle: FunctionsBundle): BuildOptions {
  const imports = bundleSources(appRoot, bundle.entry).map((file) => {
    const relative = path.relative(appRoot, file).split(path.sep).join('/');
    return `require('./${relative.replace(/\.[cm]?ts$/, '')}');`;
  });
  return {
    stdin: {
      contents:
        imports.join('\n') +
        // The cold-start benchmark calls it as the first invocation would; the worker ignores main's exports.
        "\nmodule.exports.getServices = require('./shared/services').getServices;\n",
      resolveDir: appRoot,
      loader: 'ts',
      sourcefile: 'functions-bundle-entry.ts',
    },
    ...NODE_BUNDLE,
    // @azure/functions-core is injected by the worker. @azure/functions stays a package so that the app and whoever
    // hosts it (the worker, or the local host that records the registrations) share one `app` object.
    external: ['@azure/functions-core', '@azure/functions'],
    outfile: path.resolve(appRoot, bundle.outfile),
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

/** Builds the bundle (and the lazy SDK bundles beside it); `bundle` defaults to package.json `functionsBundle`. */
export async function buildFunctionsBundle(
  appRoot: string = PROJECT_ROOT,
  bundle: FunctionsBundle | undefined = readFunctionsBundle(appRoot),
): Promise<string> {
  if (!bundle) throw new Error(`package.json in ${appRoot} has no "functionsBundle"`);
  const outfile = path.resolve(appRoot, bundle.outfile);
  await Promise.all([
    build(bundleOptions(appRoot, bundle)),
    ...Object.entries(LAZY_SDKS).map(([name, file]) =>
      build(lazySdkOptions(appRoot, path.dirname(outfile), name, file)),
    ),
  ]);
  return outfile;
}

if (require.main === module) {
  buildFunctionsBundle().then(
    (file) => console.log(`bundled the functions into ${path.relative(process.cwd(), file)}`),
    (error: unknown) => {
      console.error(error instanceof Error ? error.message : error);
      process.exitCode = 1;
    },
  );
}
