import { asArray, asObject, declaration, get, readBicep, resources, valueOf, type BicepValue } from './bicep';

const main = readBicep('infra/main.bicep');
const api = readBicep('infra/app/api.bicep');
const params = (module: string): { [key: string]: BicepValue } =>
  asObject(get(valueOf(main, 'module', module), 'params'));
const WORKSPACE = { expr: 'logAnalytics.outputs.resourceId' };

/** The log categories a diagnostic setting sends, from the AVM `logCategoriesAndGroups` shape. */
const categories = (setting: BicepValue): BicepValue[] =>
  asArray(get(setting, 'logCategoriesAndGroups')).map(
    (entry) => get(entry, 'category') ?? get(entry, 'categoryGroup')!,
  );

describe('diagnostic settings: audit and host logs go to the Log Analytics workspace', () => {
  it('Key Vault: every secret read and write (AuditEvent), and its metrics', () => {
    const settings = asArray(params('keyVault').diagnosticSettings);
    expect(settings).toHaveLength(1);
    expect(get(settings[0], 'workspaceResourceId')).toEqual(WORKSPACE);
    expect(categories(settings[0])).toEqual(['AuditEvent']);
    expect(get(settings[0], 'metricCategories')).toEqual([{ category: 'AllMetrics' }]);
  });

  it('function app: the host logs (FunctionAppLogs), from the workspace main.bicep passes', () => {
    const diagnostics = resources(api).filter((r) => r.type.startsWith('Microsoft.Insights/diagnosticSettings@'));
    expect(diagnostics).toHaveLength(1);
    expect(get(diagnostics[0].value, 'scope')).toEqual({ expr: 'functionApp' });
    expect(get(diagnostics[0].value, 'properties.workspaceId')).toEqual({ expr: 'logAnalyticsWorkspaceId' });
    expect(get(diagnostics[0].value, 'properties.logs')).toEqual([{ category: 'FunctionAppLogs', enabled: true }]);
    expect(declaration(api, 'param', 'logAnalyticsWorkspaceId').node.namedChildren).toHaveLength(2); // required
    expect(params('api').logAnalyticsWorkspaceId).toEqual(WORKSPACE);
  });

  it('storage: writes and deletes on tables, queues and blobs; reads left out (their volume is most of the cost)', () => {
    const storage = params('storage');
    for (const service of ['blobServices', 'queueServices', 'tableServices']) {
      expect([service, get(storage, `${service}.diagnosticSettings`)]).toEqual([
        service,
        { expr: 'storageDiagnosticSettings' },
      ]);
    }
    const settings = asArray(valueOf(main, 'var', 'storageDiagnosticSettings'));
    expect(settings).toHaveLength(1);
    expect(get(settings[0], 'workspaceResourceId')).toEqual(WORKSPACE);
    expect(categories(settings[0])).toEqual(['StorageWrite', 'StorageDelete']);
    // Platform metrics stay in Azure Monitor; copying them to the workspace is paid ingestion.
    expect(get(settings[0], 'metricCategories')).toEqual([]);
  });
});
