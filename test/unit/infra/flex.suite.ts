import {
  asObject,
  bicepFiles,
  declarations,
  exprOf,
  get,
  isExpression,
  readBicep,
  resources,
  valueOf,
  type BicepValue,
  type BicepFile,
} from './bicep';

/**
 * What the Flex Consumption plan does not take on a function app: the site properties and app settings Microsoft lists
 * in "Flex Consumption plan deprecations" (Azure Functions app settings reference). Some are refused outright — ARM
 * error 51021 for `ftpsState` on newer regional stamps — and the rest are ignored or replaced by
 * `properties.functionAppConfig`; none may be set here.
 */
const FLEX_DEPRECATED_SITE_PROPERTIES = [
  'alwaysOn',
  'containerSize',
  'dnsConfiguration',
  'ftpsState',
  'isReserved',
  'IsXenon',
  'javaVersion',
  'LinuxFxVersion',
  'netFrameworkVersion',
  'powerShellVersion',
  'functionAppScaleLimit',
  'preWarmedInstanceCount',
  'use32BitWorkerProcess',
  'vnetBackupRestoreEnabled',
  'vnetContentShareEnabled',
  'vnetImagePullEnabled',
  'vnetRouteAllEnabled',
  'windowsFxVersion',
];

const FLEX_DEPRECATED_APP_SETTINGS = [
  'ENABLE_ORYX_BUILD',
  'FUNCTIONS_EXTENSION_VERSION',
  'FUNCTIONS_WORKER_RUNTIME',
  'FUNCTIONS_WORKER_RUNTIME_VERSION',
  'FUNCTIONS_MAX_HTTP_CONCURRENCY',
  'FUNCTIONS_WORKER_PROCESS_COUNT',
  'FUNCTIONS_WORKER_DYNAMIC_CONCURRENCY_ENABLED',
  'SCM_DO_BUILD_DURING_DEPLOYMENT',
  'WEBSITE_CONTENTAZUREFILECONNECTIONSTRING',
  'WEBSITE_CONTENTOVERVNET',
  'WEBSITE_CONTENTSHARE',
  'WEBSITE_DNS_SERVER',
  'WEBSITE_MAX_DYNAMIC_APPLICATION_SCALE_OUT',
  'WEBSITE_NODE_DEFAULT_VERSION',
  'WEBSITE_RUN_FROM_PACKAGE',
  'WEBSITE_SKIP_CONTENTSHARE_VALIDATION',
  'WEBSITE_VNET_ROUTE_ALL',
];

const lower = (names: string[]) => names.map((name) => name.toLowerCase());

function keysOf(value: BicepValue | undefined): string[] {
  if (value === undefined || isExpression(value)) return [];
  return Object.keys(asObject(value));
}

/** The app settings a `config` resource writes: its literal keys, and those of the vars a `union(...)` names. */
function appSettingNames(file: BicepFile, properties: BicepValue | undefined): string[] {
  if (!isExpression(properties)) return keysOf(properties);
  const vars = new Set(
    declarations(file)
      .filter((d) => d.kind === 'var')
      .map((d) => d.name),
  );
  const named = [...exprOf(properties).matchAll(/\b\w+\b/g)].map((m) => m[0]).filter((word) => vars.has(word));
  expect(named.length).toBeGreaterThan(0);
  return named.flatMap((name) => keysOf(valueOf(file, 'var', name)));
}

const sites = bicepFiles().flatMap((path) => {
  const file = readBicep(path);
  return resources(file)
    .filter(
      (r) =>
        !r.existing && (r.type.startsWith('Microsoft.Web/sites@') || r.type.startsWith('Microsoft.Web/sites/config')),
    )
    .map((r) => ({ path, file, ...r }));
});

describe('Flex Consumption accepts the function app (no deprecated site property or app setting)', () => {
  it('finds the function app and its app settings', () => {
    expect(sites.filter((s) => s.type.startsWith('Microsoft.Web/sites@'))).toHaveLength(1);
    expect(sites.filter((s) => s.type.startsWith('Microsoft.Web/sites/config'))).toHaveLength(1);
  });

  it('sets no site property on the list, in properties or in siteConfig', () => {
    for (const site of sites.filter((s) => s.type.startsWith('Microsoft.Web/sites@'))) {
      const set = [...keysOf(get(site.value, 'properties')), ...keysOf(get(site.value, 'properties.siteConfig'))];
      expect(set.length).toBeGreaterThan(0);
      const rejected = set.filter((key) => lower(FLEX_DEPRECATED_SITE_PROPERTIES).includes(key.toLowerCase()));
      expect([site.path, rejected]).toEqual([site.path, []]);
    }
  });

  it('sets no app setting on the list', () => {
    for (const config of sites.filter((s) => s.type.startsWith('Microsoft.Web/sites/config'))) {
      const names = appSettingNames(config.file, get(config.value, 'properties'));
      expect(names.length).toBeGreaterThan(0);
      const rejected = names.filter((name) => lower(FLEX_DEPRECATED_APP_SETTINGS).includes(name.toLowerCase()));
      expect([config.path, rejected]).toEqual([config.path, []]);
    }
  });
});
