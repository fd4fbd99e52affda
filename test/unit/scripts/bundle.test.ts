import { execFileSync } from 'node:child_process';
import { mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { readFunctionsBundle } from '../../../dev/host/modules';
import { buildFunctionsBundle } from '../../../scripts/bundle';
import { readdirSync } from 'node:fs';

const projectRoot = path.resolve(__dirname, '../../..');
// Inside the project, so that the bundle's external @azure/functions resolves from the project's node_modules.
const outDir = path.join(projectRoot, 'dist', `bundle-test-${process.pid}`);

/** What the Functions worker injects as @azure/functions-core: records each registration's name. */
const FUNCTIONS_CORE_STAND_IN = `
globalThis.registered = [];
module.exports = {
  setProgrammingModel() {},
  getProgrammingModel() { return undefined; },
  registerFunction(metadata) { globalThis.registered.push(metadata.name); return { dispose() {} }; },
  registerHook() { return { dispose() {} }; },
  log() {},
};
`;

function registrationsInSources(): string[] {
  const dir = path.join(projectRoot, 'functions');
  return readdirSync(dir)
    .filter((f) => f.endsWith('.ts'))
    .flatMap((f) => [...readFileSync(path.join(dir, f), 'utf8').matchAll(/\bapp\.\w+\(\s*'(\w+)'/g)].map((m) => m[1]))
    .sort();
}

afterAll(() => rmSync(outDir, { recursive: true, force: true }));

describe('the shipped bundle (package.json main)', () => {
  it('main is the bundle that functionsBundle builds from functions/*.ts', () => {
    const manifest = JSON.parse(readFileSync(path.join(projectRoot, 'package.json'), 'utf8')) as { main: string };
    expect(readFunctionsBundle(projectRoot)).toEqual({ entry: 'functions/*.ts', outfile: manifest.main });
  });

  it('registers every function with the worker, and leaves Application Insights to a bundle of its own', async () => {
    const main = await buildFunctionsBundle(projectRoot, {
      entry: 'functions/*.ts',
      outfile: path.relative(projectRoot, path.join(outDir, 'main.js')),
    });
    const core = path.join(outDir, 'node_modules', '@azure', 'functions-core');
    mkdirSync(core, { recursive: true });
    writeFileSync(path.join(core, 'index.js'), FUNCTIONS_CORE_STAND_IN);
    const output = execFileSync(
      process.execPath,
      ['-e', `require(${JSON.stringify(main)}); console.log(JSON.stringify(globalThis.registered))`],
      {
        encoding: 'utf8',
        env: {
          PATH: process.env.PATH,
          NODE_PATH: path.join(outDir, 'node_modules'),
          AzureWebJobsStorage: 'UseDevelopmentStorage=true',
          PARTNER_CENTER_TENANT_ID: '00000000-0000-0000-0000-000000000001',
          PARTNER_CENTER_CLIENT_ID: '00000000-0000-0000-0000-000000000002',
          KEY_VAULT_URL: '',
        },
      },
    );
    const registered = (JSON.parse(output.trim().split('\n').at(-1)!) as string[]).sort();
    // Every registration written in the sources (app.http('name', ...), app.storageQueue(...), app.timer(...)).
    expect(registered).toEqual(registrationsInSources());
    const code = readFileSync(main, 'utf8');
    expect(code).toContain('require("./applicationinsights.js")');
    expect(code).not.toMatch(/require\("applicationinsights"\)/);
    expect(code).toMatch(/require\("@azure\/functions"\)/);
  });
});
