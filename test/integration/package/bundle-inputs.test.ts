import { readFileSync } from 'node:fs';
import path from 'node:path';
import { build } from 'esbuild';
import { bundleOptions } from '../../../scripts/bundle';
import { PROJECT_ROOT } from './deployment-package';

/**
 * What the production bundle is made of: the app's own code from `functions/` and `shared/` and installed packages,
 * nothing from the local stack, the tests, the benchmarks or the scripts. The bundle is built as `npm run build`
 * builds it, in memory, and esbuild's metafile lists every file it read.
 */
describe('the production bundle (dist/package/main.js)', () => {
  let inputs: string[];

  beforeAll(async () => {
    const result = await build({
      ...bundleOptions(PROJECT_ROOT, path.join(PROJECT_ROOT, 'dist', 'bundle-inputs-check', 'main.js')),
      write: false,
      metafile: true,
      logLevel: 'silent',
    });
    inputs = Object.keys(result.metafile.inputs);
  }, 60_000);

  it('is built from functions/, shared/ and packages only: no dev/, test/, bench/ or scripts/ code', () => {
    // (The entry esbuild reads from stdin, which requires functions/index.ts, is named by scripts/bundle.ts.)
    const ownFiles = inputs.filter((file) => !file.startsWith('node_modules/') && file !== 'functions-bundle-entry.ts');
    expect(ownFiles.filter((file) => !/^(functions|shared)\//.test(file))).toEqual([]);
    // The check sees the app: its entry, a function module and the composition root are among the inputs.
    expect(ownFiles).toEqual(
      expect.arrayContaining(['functions/index.ts', 'functions/pollUpgrades.ts', 'shared/services.ts']),
    );
  });

  it('holds no development dependency', () => {
    const manifest = JSON.parse(readFileSync(path.join(PROJECT_ROOT, 'package.json'), 'utf8')) as {
      devDependencies: Record<string, string>;
    };
    const packages = new Set(inputs.flatMap((file) => /^node_modules\/((?:@[^/]+\/)?[^/]+)\//.exec(file)?.[1] ?? []));
    expect([...packages].filter((name) => name in manifest.devDependencies)).toEqual([]);
  });
});
