import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { SECRET_SETTING_NAMES } from '../../../shared/config';
import { keyVaultSecretName, type SecretName } from '../../../shared/secrets/types';
import {
  asArray,
  asObject,
  bicepFiles,
  declarations,
  exprOf,
  get,
  readBicep,
  REPO_ROOT,
  resources,
  valueOf,
  type BicepValue,
} from './bicep';

const ROLES = {
  storageBlobDataOwner: 'b7e6dc6d-f1e8-4753-8033-0f276bb0955b',
  storageQueueDataContributor: '974c5e8b-45b9-4653-ba55-5f855dd0fb88',
  storageTableDataContributor: '0a9a7e1f-b9d0-4cc4-a60d-0319b160aaa3',
  keyVaultSecretsUser: '4633458b-17de-408a-b874-0445c86b69e6',
  keyVaultSecretsOfficer: 'b86a8fe4-44ce-4948-aee5-eccb2c155cd7',
  monitoringMetricsPublisher: '3913510d-42f4-4e42-8a64-420c390055eb',
};

const main = readBicep('infra/main.bicep');
const params = (module: string): { [key: string]: BicepValue } =>
  asObject(get(valueOf(main, 'module', module), 'params'));

describe('security invariants', () => {
  it('storage: no shared keys, TLS 1.2, no public blob access, https only', () => {
    const storage = params('storage');
    expect(storage.allowSharedKeyAccess).toBe(false);
    expect(storage.minimumTlsVersion).toBe('TLS1_2');
    expect(storage.allowBlobPublicAccess).toBe(false);
    expect(storage.supportsHttpsTrafficOnly).toBe(true);
  });

  it('Key Vault: RBAC authorization, soft delete, purge protection', () => {
    const vault = params('keyVault');
    expect(vault.enableRbacAuthorization).toBe(true);
    expect(vault.enableSoftDelete).toBe(true);
    expect(vault.enablePurgeProtection).toBe(true);
  });

  it('storage and Key Vault stay reachable for an app without a virtual network, by identity only', () => {
    // AVM storage and Key Vault modules deny public traffic unless told otherwise; the Flex Consumption app here has
    // no virtual network, so access is controlled by Entra ID and RBAC instead.
    for (const module of ['storage', 'keyVault']) {
      expect(params(module).publicNetworkAccess).toBe('Enabled');
      expect(params(module).networkAcls).toEqual({ bypass: 'AzureServices', defaultAction: 'Allow' });
    }
  });

  it('Application Insights: local (key) authentication off', () => {
    expect(params('appInsights').disableLocalAuth).toBe(true);
  });

  it('function app: HTTPS only, TLS 1.2, FTP and basic-auth publishing off, user-assigned identity', () => {
    // No siteConfig.ftpsState: Flex Consumption has no FTP and refuses the property (flex.suite.ts); the publishing
    // credentials policies below turn FTP and basic-auth publishing off.
    const api = readBicep('infra/app/api.bicep');
    const site = asObject(valueOf(api, 'resource', 'functionApp'));
    expect(get(site, 'properties.httpsOnly')).toBe(true);
    expect(get(site, 'properties.siteConfig.minTlsVersion')).toBe('1.2');
    expect(get(site, 'properties.siteConfig.scmMinTlsVersion')).toBe('1.2');
    expect(get(site, 'identity.type')).toBe('UserAssigned');
    const policies = resources(api).filter((r) => r.type === 'Microsoft.Web/sites/basicPublishingCredentialsPolicies');
    expect(policies.map((p) => [get(p.value, 'name'), get(p.value, 'properties.allow')]).sort()).toEqual([
      ['ftp', false],
      ['scm', false],
    ]);
    expect(get(site, 'properties.functionAppConfig.runtime')).toEqual({ name: 'node', version: '22' });
    expect(get(site, 'properties.functionAppConfig.deployment.storage.authentication.type')).toBe(
      'UserAssignedIdentity',
    );
    expect(get(valueOf(main, 'module', 'appServicePlan'), 'params.sku')).toEqual({
      name: 'FC1',
      tier: 'FlexConsumption',
    });
  });

  it('no template reads keys or holds a secret value', () => {
    for (const path of bicepFiles()) {
      const file = readBicep(path);
      expect(file.source).not.toMatch(/listKeys\(|listSecrets\(|AccountKey=|InstrumentationKey=/);
      // A secure parameter with a default would put a secret in the template.
      for (const d of declarations(file).filter((d) => d.kind === 'param' && d.decorators.includes('@secure()'))) {
        expect(d.node.namedChildren).toHaveLength(2);
      }
    }
  });

  it('the only Key Vault secret infra writes is the public placeholder of the refresh token, never overwritten', () => {
    const secrets = bicepFiles().flatMap((path) =>
      resources(readBicep(path)).filter((r) => r.type.startsWith('Microsoft.KeyVault/vaults/secrets') && !r.existing),
    );
    expect(secrets).toHaveLength(1);
    expect(get(secrets[0].value, 'properties.value')).toBe('consent-required');
    expect(secrets[0].decorators).toContain('@onlyIfNotExists()');
  });

  it('names the Key Vault secrets the app reads, and the refresh token one the app writes', () => {
    const names = asArray(valueOf(main, 'var', 'secretNames')).map((n) =>
      typeof n === 'string' ? n : valueOf(main, 'var', 'refreshTokenSecretName'),
    );
    expect([...names].sort()).toEqual(SECRET_SETTING_NAMES.map((n) => keyVaultSecretName(n as SecretName)).sort());
    expect(valueOf(main, 'var', 'refreshTokenSecretName')).toBe(keyVaultSecretName('PARTNER_CENTER_REFRESH_TOKEN'));
  });
});

describe('role assignments (infra/app/rbac.bicep)', () => {
  const rbac = readBicep('infra/app/rbac.bicep');
  const roleIds = asObject(
    Object.fromEntries(
      declarations(rbac)
        .filter((d) => d.kind === 'var')
        .map((d) => [d.name, valueOf(rbac, 'var', d.name)]),
    ),
  );
  const assignments = resources(rbac)
    .filter((r) => r.type.startsWith('Microsoft.Authorization/roleAssignments'))
    .map((r) => {
      const roleDefinition = exprOf(get(r.value, 'properties.roleDefinitionId'));
      const roleVar = /'Microsoft\.Authorization\/roleDefinitions', (\w+)\)/.exec(roleDefinition)?.[1] ?? '';
      return {
        symbol: r.name,
        name: exprOf(get(r.value, 'name')),
        scope: exprOf(get(r.value, 'scope')),
        principal: exprOf(get(r.value, 'properties.principalId')),
        role: roleIds[roleVar],
      };
    });
  const appGrants = assignments.filter((a) => a.principal === 'managedIdentityPrincipalId');

  it('names every assignment guid(scope, principal, role)', () => {
    expect(assignments.length).toBeGreaterThan(0);
    for (const a of assignments) {
      const roleVar = Object.keys(roleIds).find((k) => roleIds[k] === a.role);
      expect(a.name).toBe(`guid(${a.scope}.id, ${a.principal}, ${roleVar})`);
    }
  });

  it('grants the app exactly the least-privilege roles, each on its narrowest scope', () => {
    expect(appGrants.map((a) => [a.role, a.scope]).sort()).toEqual(
      [
        [ROLES.storageBlobDataOwner, 'storageAccount'],
        [ROLES.storageQueueDataContributor, 'storageAccount'],
        [ROLES.storageTableDataContributor, 'storageAccount'],
        [ROLES.keyVaultSecretsUser, 'vault'],
        [ROLES.keyVaultSecretsOfficer, 'vault::refreshTokenSecret'],
        [ROLES.monitoringMetricsPublisher, 'appInsights'],
      ].sort(),
    );
  });

  it("scopes the app's write access to the refresh-token secret alone", () => {
    const vault = asObject(valueOf(rbac, 'resource', 'vault'));
    expect(get(vault, 'resource:refreshTokenSecret.name')).toEqual({ expr: 'refreshTokenSecretName' });
    expect(get(params('rbac'), 'refreshTokenSecretName')).toEqual({ expr: 'refreshTokenSecret.outputs.name' });
    expect(get(params('refreshTokenSecret'), 'secretName')).toEqual({ expr: 'refreshTokenSecretName' });
    const officers = appGrants.filter((a) => a.role === ROLES.keyVaultSecretsOfficer);
    expect(officers.map((a) => a.scope)).toEqual(['vault::refreshTokenSecret']);
  });

  it('uses only the expected built-in roles (no Owner or Contributor)', () => {
    for (const a of assignments) expect(Object.values(ROLES)).toContain(a.role);
  });
});

describe('no secret values in the repository', () => {
  it('the parameters file and azure.yaml hold no secret', () => {
    const text = ['infra/main.parameters.json', 'azure.yaml']
      .map((p) => readFileSync(join(REPO_ROOT, p), 'utf8'))
      .join('\n');
    for (const name of SECRET_SETTING_NAMES) expect(text).not.toContain(name);
  });
});
