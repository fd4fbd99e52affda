import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import {
  asArray,
  asObject,
  declaration,
  declarationBody,
  exprOf,
  get,
  readBicep,
  REPO_ROOT,
  ternary,
  toValue,
  valueOf,
  type BicepValue,
} from './bicep';

const main = readBicep('infra/main.bicep');
const network = readBicep('infra/app/network.bicep');
const params = (module: string): { [key: string]: BicepValue } =>
  asObject(get(valueOf(main, 'module', module), 'params'));

describe('the option to close storage and the vault to public networks (privateNetworking)', () => {
  it('exists, says what it costs and breaks, and is off by default', () => {
    const option = declaration(main, 'param', 'privateNetworking');
    expect(option.node.text).toBe('param privateNetworking bool = false');
    expect(exprOf(option.decoratorArgs.description[0])).toMatch(/\$\d+ a month.*npm run consent/);
    const parameters = JSON.parse(readFileSync(join(REPO_ROOT, 'infra/main.parameters.json'), 'utf8')).parameters;
    expect(parameters.privateNetworking).toEqual({ value: '${PRIVATE_NETWORKING=false}' });
  });

  it('when on, closes storage and the vault to public networks and reaches them through private endpoints', () => {
    const closed = { condition: 'privateNetworking', whenFalse: expect.anything() };
    const endpoints = { storage: 'storagePrivateEndpoints', keyVault: 'vaultPrivateEndpoints' };
    for (const [module, output] of Object.entries(endpoints)) {
      expect(ternary(params(module).publicNetworkAccess)).toEqual({ ...closed, whenTrue: 'Disabled' });
      expect(ternary(params(module).networkAcls)).toEqual({
        ...closed,
        whenTrue: { defaultAction: 'Deny', bypass: 'None' },
      });
      expect(ternary(params(module).privateEndpoints)).toEqual({
        condition: 'privateNetworking',
        whenTrue: { expr: `network.outputs.${output}` },
        whenFalse: [],
      });
    }
  });

  it('when on, deploys the network and joins the function app to it; when off, neither', () => {
    expect(declaration(main, 'module', 'network').node.text).toMatch(
      /^module network 'app\/network\.bicep' = if \(privateNetworking\) \{/,
    );
    expect(ternary(params('api').virtualNetworkSubnetId)).toEqual({
      condition: 'privateNetworking',
      whenTrue: { expr: 'network.outputs.appSubnetId' },
      whenFalse: '',
    });
    const api = readBicep('infra/app/api.bicep');
    expect(get(valueOf(api, 'resource', 'functionApp'), 'properties.virtualNetworkSubnetId')).toEqual({
      expr: 'empty(virtualNetworkSubnetId) ? null : virtualNetworkSubnetId',
    });
  });

  it('gives the app a delegated subnet and a private endpoint, with its DNS zone, for blob, queue, table and vault', () => {
    const subnets = asArray(get(valueOf(network, 'module', 'virtualNetwork'), 'params.subnets'));
    const app = subnets.find((s) => JSON.stringify(get(s, 'name')) === JSON.stringify({ expr: 'appSubnetName' }));
    expect(get(app, 'delegation')).toBe('Microsoft.App/environments');
    expect(exprOf(valueOf(network, 'output', 'appSubnetId'))).toMatch(/\/subnets\/\$\{appSubnetName\}'$/);
    expect(valueOf(network, 'var', 'storageServices')).toEqual(['blob', 'queue', 'table']);
    expect(get(valueOf(network, 'module', 'storageDnsZones'), 'params.name')).toEqual({
      expr: "'privatelink.${service}.${environment().suffixes.storage}'",
    });
    expect(get(valueOf(network, 'module', 'vaultDnsZone'), 'params.name')).toBe('privatelink.vaultcore.azure.net');
    for (const zone of ['storageDnsZones', 'vaultDnsZone']) {
      expect(get(valueOf(network, 'module', zone), 'params.virtualNetworkLinks')).toEqual([
        { virtualNetworkResourceId: { expr: 'virtualNetwork.outputs.resourceId' }, registrationEnabled: false },
      ]);
    }
    // The loop's body: one endpoint per storage service.
    const storageEndpoint = toValue(declarationBody(declaration(network, 'output', 'storagePrivateEndpoints').node));
    expect(get(storageEndpoint, 'service')).toEqual({ expr: 'service' });
    expect(
      get(
        asArray(get(storageEndpoint, 'privateDnsZoneGroup.privateDnsZoneGroupConfigs'))[0],
        'privateDnsZoneResourceId',
      ),
    ).toEqual({ expr: 'storageDnsZones[i].outputs.resourceId' });
    const vaultEndpoint = asArray(valueOf(network, 'output', 'vaultPrivateEndpoints'));
    expect(vaultEndpoint).toHaveLength(1);
    expect(get(vaultEndpoint[0], 'service')).toBe('vault');
  });
});
