import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { parse as parseYaml } from 'yaml';
import { PACKAGE_DIR } from '../../../scripts/package';
import {
  asObject,
  bicepFiles,
  declarations,
  get,
  parseBicep,
  readBicep,
  REPO_ROOT,
  syntaxErrors,
  valueOf,
} from './bicep';

describe('Bicep templates parse', () => {
  const files = bicepFiles();

  it('finds the main template and its modules', () => {
    expect(files).toEqual(
      expect.arrayContaining([
        'infra/main.bicep',
        'infra/app/api.bicep',
        'infra/app/rbac.bicep',
        'infra/app/monitoring.bicep',
        'infra/app/secrets.bicep',
        'infra/app/network.bicep',
      ]),
    );
  });

  it.each(files)('%s has no syntax error', (path) => {
    expect(syntaxErrors(readBicep(path))).toEqual([]);
  });

  it('reports where a broken template fails', () => {
    const broken = parseBicep(
      "param a string\nresource r 'Microsoft.Web/sites@2024-04-01' = {\n  name: 'x'\n  kind: \n}\n",
    );
    const errors = syntaxErrors(broken);
    expect(errors.length).toBeGreaterThan(0);
    expect(errors[0]).toMatch(/^<inline>:\d+:\d+: /);
  });

  it('every local module path points at a file that exists', () => {
    for (const path of files) {
      for (const module of declarations(readBicep(path)).filter((d) => d.kind === 'module')) {
        if (module.type!.startsWith('br/') || module.type!.startsWith('br:')) continue;
        const target = join(REPO_ROOT, path, '..', module.type!);
        expect(() => readFileSync(target)).not.toThrow();
      }
    }
  });

  it('passes every local module exactly the parameters it declares, and all its required ones', () => {
    for (const path of files) {
      const file = readBicep(path);
      for (const module of declarations(file).filter((d) => d.kind === 'module' && !d.type!.startsWith('br/'))) {
        const target = readBicep(join(path, '..', module.type!));
        const declared = declarations(target).filter((d) => d.kind === 'param');
        const passed = Object.keys(asObject(get(valueOf(file, 'module', module.name), 'params')));
        const where = `${path}: module ${module.name}`;
        for (const name of passed)
          expect([where, declared.map((d) => d.name)]).toEqual([where, expect.arrayContaining([name])]);
        for (const required of declared.filter((d) => d.node.namedChildren.length === 2)) {
          expect([where, passed]).toEqual([where, expect.arrayContaining([required.name])]);
        }
      }
    }
  });

  it('pins every registry module to an exact version', () => {
    const registry = files.flatMap((path) =>
      declarations(readBicep(path))
        .filter((d) => d.kind === 'module' && d.type!.startsWith('br/public:'))
        .map((d) => d.type!),
    );
    expect(registry.length).toBeGreaterThan(0);
    for (const ref of registry) expect(ref).toMatch(/^br\/public:avm\/res\/[a-z-]+\/[a-z-]+:\d+\.\d+\.\d+$/);
  });
});

describe('azd project files', () => {
  it('azure.yaml deploys the prebuilt package that npm run build makes, without a build in Azure', () => {
    const project = parseYaml(readFileSync(join(REPO_ROOT, 'azure.yaml'), 'utf8'));
    expect(project.services.api).toEqual({
      project: '.',
      language: 'ts',
      host: 'function',
      dist: PACKAGE_DIR,
      remoteBuild: false,
    });
    // azd runs the build script, then zips `dist`: the build must end by making that package.
    const manifest = JSON.parse(readFileSync(join(REPO_ROOT, 'package.json'), 'utf8'));
    expect(manifest.scripts.build).toMatch(/&& node dist\/scripts\/package\.js$/);
    // azd refuses `remoteBuild: false` when the project's .funcignore leaves node_modules out; the package ships the
    // production packages its bundles need in its own node_modules.
    expect(existsSync(join(REPO_ROOT, '.funcignore'))).toBe(false);
  });

  it('main.parameters.json gives every required parameter of main.bicep a value', () => {
    const parameters = JSON.parse(readFileSync(join(REPO_ROOT, 'infra/main.parameters.json'), 'utf8')).parameters;
    const main = readBicep('infra/main.bicep');
    const required = declarations(main)
      .filter((d) => d.kind === 'param' && d.node.namedChildren.length === 2) // name and type, no default
      .map((d) => d.name);
    expect(required).toEqual(
      expect.arrayContaining(['environmentName', 'location', 'partnerCenterTenantId', 'partnerCenterClientId']),
    );
    for (const name of required) expect(parameters[name]?.value).toMatch(/^\$\{[A-Z_]+\}$/);
    const declared = declarations(main)
      .filter((d) => d.kind === 'param')
      .map((d) => d.name);
    for (const name of Object.keys(parameters)) expect(declared).toContain(name);
  });
});
