import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { SECRET_SETTING_NAMES } from '../../../shared/config';
import { keyVaultSecretName, type SecretName } from '../../../shared/secrets/types';
import {
  asArray,
  asObject,
  bicepFiles,
  declaration,
  declarations,
  exprOf,
  get,
  leadingComments,
  parseBicep,
  readBicep,
  REPO_ROOT,
  resources,
  ternary,
  valueOf,
  type BicepFile,
  type BicepValue,
} from './bicep';

const ROLES = {
  storageBlobDataOwner: 'b7e6dc6d-f1e8-4753-8033-0f276bb0955b',
  storageBlobDataContributor: 'ba92f5b4-2d11-453d-a403-e96b0029c9fe',
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

  it('storage and Key Vault stay reachable for an app without a virtual network, by identity only (the default)', () => {
    // AVM storage and Key Vault modules deny public traffic unless told otherwise; without privateNetworking the Flex
    // Consumption app has no virtual network, so access is controlled by Entra ID and RBAC instead (network.suite.ts
    // covers the private option).
    for (const module of ['storage', 'keyVault']) {
      expect(ternary(params(module).publicNetworkAccess)).toMatchObject({
        condition: 'privateNetworking',
        whenFalse: 'Enabled',
      });
      expect(ternary(params(module).networkAcls)).toMatchObject({
        condition: 'privateNetworking',
        whenFalse: { bypass: 'AzureServices', defaultAction: 'Allow' },
      });
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
    // Key Vault references (BILLING_CALLBACK_URL) resolve with that identity: the app has no system-assigned one.
    expect(get(site, 'properties.keyVaultReferenceIdentity')).toEqual({ expr: 'identityId' });
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
      // A secure parameter with a default would put a secret in the template; an empty default holds none.
      for (const d of declarations(file).filter((d) => d.kind === 'param' && d.decorators.includes('@secure()'))) {
        if (d.node.namedChildren.length === 3)
          expect([path, d.name, valueOf(file, 'param', d.name)]).toEqual([path, d.name, '']);
        else expect(d.node.namedChildren).toHaveLength(2);
      }
    }
  });

  it('writes only public placeholders over which a stored value wins, and the billing URL from its secure parameter', () => {
    const file = readBicep('infra/app/secrets.bicep');
    const written = resources(file).filter(
      (r) => r.type.startsWith('Microsoft.KeyVault/vaults/secrets') && !r.existing,
    );
    const elsewhere = bicepFiles()
      .filter((path) => path !== 'infra/app/secrets.bicep')
      .flatMap((path) =>
        resources(readBicep(path)).filter((r) => r.type.startsWith('Microsoft.KeyVault/vaults/secrets') && !r.existing),
      );
    expect(elsewhere).toEqual([]);
    const byName = Object.fromEntries(written.map((r) => [r.name, r]));
    expect(Object.keys(byName).sort()).toEqual(['billingCallbackUrlSecret', 'operatorSecrets', 'refreshToken']);
    // The refresh token's marker is enabled: the app's refresh fails with invalid_grant and the alert asks for consent.
    expect(get(byName.refreshToken.value, 'properties.value')).toBe('consent-required');
    expect(byName.refreshToken.decorators).toContain('@onlyIfNotExists()');
    // The operator's secrets start disabled: a known marker must never verify a signature.
    expect(get(byName.operatorSecrets.value, 'properties.value')).toBe('not-set');
    expect(get(byName.operatorSecrets.value, 'properties.attributes.enabled')).toBe(false);
    expect(byName.operatorSecrets.decorators).toContain('@onlyIfNotExists()');
    // The billing URL: the value of the secure parameter, written only when one is given.
    expect(get(byName.billingCallbackUrlSecret.value, 'properties.value')).toEqual({ expr: 'billingCallbackUrl' });
    expect(declaration(file, 'param', 'billingCallbackUrl').decorators).toContain('@secure()');
    expect(declaration(file, 'resource', 'billingCallbackUrlSecret').node.text).toMatch(
      /= if \(!empty\(billingCallbackUrl\)\)/,
    );
  });

  it('names the Key Vault secrets the app reads, and the refresh token one the app writes', () => {
    expect(valueOf(main, 'var', 'secretNames')).toEqual({
      expr: 'concat(operatorSecretNames, [refreshTokenSecretName])',
    });
    const names = [
      ...asArray(valueOf(main, 'var', 'operatorSecretNames')),
      valueOf(main, 'var', 'refreshTokenSecretName'),
    ];
    expect([...names].sort()).toEqual(SECRET_SETTING_NAMES.map((n) => keyVaultSecretName(n as SecretName)).sort());
    expect(valueOf(main, 'var', 'refreshTokenSecretName')).toBe(keyVaultSecretName('PARTNER_CENTER_REFRESH_TOKEN'));
    expect(params('secrets')).toMatchObject({
      refreshTokenSecretName: { expr: 'refreshTokenSecretName' },
      operatorSecretNames: { expr: 'operatorSecretNames' },
    });
  });
});

interface RoleAssignment {
  path: string;
  symbol: string;
  name: string;
  scope: string;
  principal: string;
  role: BicepValue;
  /** The comment lines above the declaration: why this role, on this scope. */
  reason: string[];
}

/** Every role assignment a template declares, with its role id resolved through the file's vars. */
function roleAssignments(file: BicepFile): RoleAssignment[] {
  const vars = Object.fromEntries(
    declarations(file)
      .filter((d) => d.kind === 'var')
      .map((d) => [d.name, valueOf(file, 'var', d.name)]),
  );
  return declarations(file)
    .filter((d) => d.kind === 'resource' && d.type!.startsWith('Microsoft.Authorization/roleAssignments@'))
    .map((d) => {
      const value = valueOf(file, 'resource', d.name);
      const roleDefinition = exprOf(get(value, 'properties.roleDefinitionId'));
      const roleVar = /'Microsoft\.Authorization\/roleDefinitions', (\w+)\)/.exec(roleDefinition)?.[1] ?? '';
      return {
        path: file.path,
        symbol: d.name,
        name: exprOf(get(value, 'name')),
        scope: exprOf(get(value, 'scope')),
        principal: exprOf(get(value, 'properties.principalId')),
        role: vars[roleVar] ?? roleDefinition,
        reason: leadingComments(file, d),
      };
    });
}

/** The scope a role assignment names, as the resource type it refers to (`queues[i]` -> the `queues` declaration). */
function scopeType(file: BicepFile, scope: string): string {
  const symbol = scope.replace(/\[\w+\]$/, '');
  const found = resources(file).find((r) => r.name === symbol);
  if (!found) throw new Error(`${file.path}: no resource ${symbol}`);
  return found.type.split('@')[0];
}

/**
 * Storage Blob Data Owner on a whole storage account reaches every container and every blob, with the rights to
 * change ACLs and tags: allowed only with its reason written above it, beginning "Account-wide Storage Blob Data Owner:".
 */
function unexplainedAccountWideBlobOwners(file: BicepFile): string[] {
  return roleAssignments(file)
    .filter((a) => a.role === ROLES.storageBlobDataOwner)
    .filter((a) => scopeType(file, a.scope) === 'Microsoft.Storage/storageAccounts')
    .filter((a) => !a.reason.some((line) => /^Account-wide Storage Blob Data Owner: \S/.test(line)))
    .map((a) => `${a.path}: ${a.symbol}`);
}

describe('role assignments', () => {
  const rbac = readBicep('infra/app/rbac.bicep');
  const assignments = roleAssignments(rbac);
  const appGrants = assignments.filter((a) => a.principal === 'managedIdentityPrincipalId');
  const rbacParams = params('rbac');

  it('names every assignment guid(scope, principal, role)', () => {
    expect(assignments.length).toBeGreaterThan(0);
    for (const a of assignments) {
      const roleVar = exprOf(a.name).split(', ').pop()!.replace(/\)$/, '');
      expect(a.name).toBe(`guid(${a.scope}.id, ${a.principal}, ${roleVar})`);
      expect(valueOf(rbac, 'var', roleVar)).toBe(a.role);
    }
  });

  it('grants the app exactly the least-privilege roles, each on its narrowest scope', () => {
    expect(appGrants.map((a) => [a.role, a.scope]).sort()).toEqual(
      [
        [ROLES.storageBlobDataContributor, 'blobContainers[i]'],
        [ROLES.storageQueueDataContributor, 'queues[i]'],
        [ROLES.storageTableDataContributor, 'storageAccount'],
        [ROLES.keyVaultSecretsUser, 'appReadSecrets[i]'],
        [ROLES.keyVaultSecretsOfficer, 'refreshTokenSecret'],
        [ROLES.monitoringMetricsPublisher, 'appInsights'],
      ].sort(),
    );
    expect(scopeType(rbac, 'blobContainers[i]')).toBe('Microsoft.Storage/storageAccounts/blobServices/containers');
    expect(scopeType(rbac, 'queues[i]')).toBe('Microsoft.Storage/storageAccounts/queueServices/queues');
    expect(scopeType(rbac, 'appReadSecrets[i]')).toBe('Microsoft.KeyVault/vaults/secrets');
  });

  it("scopes the blob role to the host's containers and the deployment package's, and the queue role to the app's queues", () => {
    expect(rbacParams.blobContainerNames).toEqual({ expr: 'blobContainerNames' });
    expect(valueOf(main, 'var', 'blobContainerNames')).toEqual({
      expr: 'concat(hostBlobContainerNames, [deploymentStorageContainerName])',
    });
    // The containers the Functions host uses with AzureWebJobsStorage: host id, locks, timer schedules; function keys.
    expect(valueOf(main, 'var', 'hostBlobContainerNames')).toEqual(['azure-webjobs-hosts', 'azure-webjobs-secrets']);
    expect(rbacParams.queueNames).toEqual({ expr: 'appQueues' });
    // The table role stays on the account: the host creates and lists its diagnostic-events tables there.
    const table = appGrants.find((a) => a.role === ROLES.storageTableDataContributor)!;
    expect(table.reason.join(' ')).toMatch(/diagnostic events/);
  });

  it('no account-wide Storage Blob Data Owner in any template unless its reason is written beside it', () => {
    for (const path of bicepFiles()) expect(unexplainedAccountWideBlobOwners(readBicep(path))).toEqual([]);
    // The check itself: an account-wide owner without its reason is reported, with it (or on a container) it is not.
    const template = (reason: string, scope: string) =>
      parseBicep(
        [
          "var owner = 'b7e6dc6d-f1e8-4753-8033-0f276bb0955b'",
          "resource account 'Microsoft.Storage/storageAccounts@2023-05-01' existing = {",
          "  name: 'st'",
          '}',
          "resource container 'Microsoft.Storage/storageAccounts/blobServices/containers@2023-05-01' existing = {",
          "  name: 'st/default/c'",
          '}',
          reason,
          "resource grant 'Microsoft.Authorization/roleAssignments@2022-04-01' = {",
          '  name: guid(account.id, p, owner)',
          `  scope: ${scope}`,
          '  properties: {',
          "    roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', owner)",
          '    principalId: p',
          '  }',
          '}',
          '',
        ].join('\n'),
        'inline.bicep',
      );
    expect(unexplainedAccountWideBlobOwners(template('// the host needs it', 'account'))).toEqual([
      'inline.bicep: grant',
    ]);
    expect(
      unexplainedAccountWideBlobOwners(
        template('// Account-wide Storage Blob Data Owner: the host creates containers we cannot name', 'account'),
      ),
    ).toEqual([]);
    expect(unexplainedAccountWideBlobOwners(template('', 'container'))).toEqual([]);
  });

  it('writes the reason for every role assignment above it', () => {
    for (const path of bicepFiles()) {
      for (const a of roleAssignments(readBicep(path))) {
        expect([a.path, a.symbol, a.reason.join(' ').length > 20]).toEqual([a.path, a.symbol, true]);
      }
    }
  });

  it("scopes the app's write access to the refresh-token secret alone", () => {
    const refreshTokenSecret = asObject(valueOf(rbac, 'resource', 'refreshTokenSecret'));
    expect(refreshTokenSecret.name).toEqual({ expr: 'refreshTokenSecretName' });
    expect(scopeType(rbac, 'refreshTokenSecret')).toBe('Microsoft.KeyVault/vaults/secrets');
    expect(rbacParams.refreshTokenSecretName).toEqual({ expr: 'secrets.outputs.refreshTokenSecretName' });
    const officers = appGrants.filter((a) => a.role === ROLES.keyVaultSecretsOfficer);
    expect(officers.map((a) => a.scope)).toEqual(['refreshTokenSecret']);
  });

  it('lets the app read only the secrets it names, the billing callback URL among them only when it is set', () => {
    expect(rbacParams.appReadSecretNames).toEqual({
      expr: [
        'concat(',
        '      secrets.outputs.operatorSecretNames,',
        '      empty(billingCallbackUrl) ? [] : [secrets.outputs.billingCallbackUrlSecretName]',
        '    )',
      ].join('\n'),
    });
    const secrets = readBicep('infra/app/secrets.bicep');
    expect(valueOf(secrets, 'output', 'operatorSecretNames')).toEqual({
      expr: '[for (name, i) in operatorSecretNames: operatorSecrets[i].name]',
    });
  });

  it('gives the deployer Secrets Officer on each secret it stores, never on the vault, and a switch to stop it', () => {
    const deployer = assignments.filter((a) => a.principal === 'userPrincipalId');
    expect(deployer.map((a) => [a.role, a.scope])).toEqual([[ROLES.keyVaultSecretsOfficer, 'userSecrets[i]']]);
    expect(scopeType(rbac, 'userSecrets[i]')).toBe('Microsoft.KeyVault/vaults/secrets');
    // The operator's three secrets and the refresh token `npm run consent` writes: nothing else.
    expect(rbacParams.userSecretNames).toEqual({
      expr: 'concat(secrets.outputs.operatorSecretNames, [secrets.outputs.refreshTokenSecretName])',
    });
    expect(rbacParams.userPrincipalId).toEqual({ expr: "deployerSecretAccess ? principalId : ''" });
    expect(declaration(main, 'param', 'deployerSecretAccess').node.text).toMatch(
      /^param deployerSecretAccess bool = true$/,
    );
    expect(declaration(rbac, 'resource', 'operatorSecretsOfficer').node.text).toMatch(
      /if \(!empty\(userPrincipalId\)\)/,
    );
    const parameters = JSON.parse(readFileSync(join(REPO_ROOT, 'infra/main.parameters.json'), 'utf8')).parameters;
    expect(parameters.deployerSecretAccess).toEqual({ value: '${DEPLOYER_SECRET_ACCESS=true}' });
  });

  it('uses only the expected built-in roles (no Owner or Contributor)', () => {
    for (const a of assignments) expect(Object.values(ROLES)).toContain(a.role);
  });
});

/** Parameters whose names sound like credentials but are not, each with its reason. */
const NOT_CREDENTIALS: Record<string, string> = {
  resourceToken: 'the short unique naming suffix derived from the subscription, environment and region',
};

/** A parameter that may carry a credential, by its name (a name of something is not one) or by its description. */
function mayCarryCredential(name: string, description: string): boolean {
  if (name in NOT_CREDENTIALS) return false;
  const namesAThing = /(Name|Names|Uri|Id|Ids)$/.test(name);
  const byName = /secret|password|token|credential|connectionString|apiKey|accessKey|sas|callbackUrl|webhookUrl/i;
  return (!namesAThing && byName.test(name)) || /may carry a credential/i.test(description);
}

function secureParams(file: BicepFile): string[] {
  return declarations(file)
    .filter((d) => d.kind === 'param' && d.decorators.includes('@secure()'))
    .map((d) => d.name);
}

/** The secure parameters an expression refers to, except as the argument of empty(): whether one is set is no secret. */
function secureReferences(expression: string, secure: string[]): string[] {
  const withoutPresence = expression.replace(/\bempty\(\s*\w+\s*\)/g, 'empty()');
  return secure.filter((name) => new RegExp(`\\b${name}\\b`).test(withoutPresence));
}

describe('parameters that may carry a credential', () => {
  it('are @secure() in every template, by name or by description', () => {
    const found: string[] = [];
    for (const path of bicepFiles()) {
      const file = readBicep(path);
      // Only strings and objects can hold a credential (and only they can be @secure()).
      const params = declarations(file).filter(
        (d) => d.kind === 'param' && ['string', 'object'].includes(d.node.namedChildren[1].text),
      );
      for (const d of params) {
        const description = d.decoratorArgs.description ? exprOf(d.decoratorArgs.description[0]) : '';
        if (!mayCarryCredential(d.name, description)) continue;
        found.push(`${path}: ${d.name}`);
        expect([path, d.name, d.decorators]).toEqual([path, d.name, expect.arrayContaining(['@secure()'])]);
      }
    }
    // The billing callback URL may carry a key (docs/billing-callbacks.md): main.bicep takes it, secrets.bicep stores it.
    expect(found).toEqual(
      expect.arrayContaining(['infra/main.bicep: billingCallbackUrl', 'infra/app/secrets.bicep: billingCallbackUrl']),
    );
    // The rule by name: names of things are not credentials, values are.
    expect(mayCarryCredential('refreshTokenSecretName', '')).toBe(false);
    expect(mayCarryCredential('billingCallbackUrlSecretUri', '')).toBe(false);
    expect(mayCarryCredential('partnerCenterClientSecret', '')).toBe(true);
    expect(mayCarryCredential('alertWebhook', 'Teams webhook; may carry a credential')).toBe(true);
  });

  it('pass their value only to secure module parameters, and never to an output', () => {
    let checked = 0;
    for (const path of bicepFiles()) {
      const file = readBicep(path);
      const secure = secureParams(file);
      if (secure.length === 0) continue;
      for (const output of declarations(file).filter((d) => d.kind === 'output')) {
        // Not even whether one is set: an output is readable by anyone who can read the deployment.
        expect([path, output.name, secure.filter((n) => new RegExp(`\\b${n}\\b`).test(output.node.text))]).toEqual([
          path,
          output.name,
          [],
        ]);
      }
      for (const module of declarations(file).filter((d) => d.kind === 'module' && !d.type!.startsWith('br/'))) {
        const target = readBicep(join(path, '..', module.type!));
        const targetSecure = secureParams(target);
        for (const [name, value] of Object.entries(asObject(get(valueOf(file, 'module', module.name), 'params')))) {
          const text = typeof value === 'string' ? `'${value}'` : JSON.stringify(value);
          if (secureReferences(text, secure).length === 0) continue;
          checked += 1;
          expect([path, module.name, name, targetSecure.includes(name)]).toEqual([path, module.name, name, true]);
        }
      }
    }
    expect(checked).toBeGreaterThan(0);
    expect(secureReferences('empty(billingCallbackUrl) ? 1 : 2', ['billingCallbackUrl'])).toEqual([]);
    expect(secureReferences("'${billingCallbackUrl}?x'", ['billingCallbackUrl'])).toEqual(['billingCallbackUrl']);
  });

  it('keep the billing callback URL out of the app module: it gets a Key Vault reference or nothing', () => {
    const api = params('api');
    expect(api).not.toHaveProperty('billingCallbackUrl');
    expect(ternary(api.billingCallbackUrlSecretUri)).toEqual({
      condition: 'empty(billingCallbackUrl)',
      whenTrue: '',
      whenFalse: { expr: 'secrets.outputs.billingCallbackUrlSecretUri' },
    });
    expect(params('secrets').billingCallbackUrl).toEqual({ expr: 'billingCallbackUrl' });
    const parameters = JSON.parse(readFileSync(join(REPO_ROOT, 'infra/main.parameters.json'), 'utf8')).parameters;
    expect(parameters.billingCallbackUrl).toEqual({ value: '${BILLING_CALLBACK_URL=}' });
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
