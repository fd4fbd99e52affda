// Role assignments, least privilege: each role on the narrowest scope the platform allows, with the reason written
// above it (the infra tests require one). Each is named guid(scope, principal, role) so a redeployment finds it again.
//
// Microsoft's Flex Consumption samples grant the app's identity Storage Blob Data Owner on the whole storage account.
// This template does not: the Functions host touches two blob containers (azure-webjobs-hosts: host id, locks, timer
// schedules; azure-webjobs-secrets: function keys) and Flex Consumption one more (the deployment package container),
// so the identity gets Storage Blob Data Contributor on those three containers alone. Contributor, not Owner: Owner
// adds blob tags, POSIX ACLs and immutability overrides, none of which the host uses: it creates its containers if
// missing and lists, reads, writes, leases and deletes blobs in them, all within Contributor (the role Microsoft's
// Durable Functions guidance names for the same host connection).
param storageAccountName string
param keyVaultName string
param appInsightsName string
@description('Blob containers the host and the platform use (created by main.bicep): Storage Blob Data Contributor on each.')
param blobContainerNames array
@description('Queues the app reads and writes, their poison queues included (created by main.bicep).')
param queueNames array
@description('Key Vault secrets the app reads (they must exist): Key Vault Secrets User on each.')
param appReadSecretNames array
@description('The secret the app reads and writes back (the rotated refresh token): Key Vault Secrets Officer on it.')
param refreshTokenSecretName string
@description('Principal id of the function app\'s user-assigned identity.')
param managedIdentityPrincipalId string
@description('Principal id of the person or pipeline that stores the secrets and runs the consent. Empty: no grant.')
param userPrincipalId string = ''
@allowed([
  'User'
  'ServicePrincipal'
  'Group'
])
param userPrincipalType string = 'User'
@description('Secrets userPrincipalId stores (they must exist): Key Vault Secrets Officer on each secret, not on the vault.')
param userSecretNames array = []

// Built-in role definition ids.
var storageBlobDataContributor = 'ba92f5b4-2d11-453d-a403-e96b0029c9fe'
var storageQueueDataContributor = '974c5e8b-45b9-4653-ba55-5f855dd0fb88'
var storageTableDataContributor = '0a9a7e1f-b9d0-4cc4-a60d-0319b160aaa3'
var keyVaultSecretsUser = '4633458b-17de-408a-b874-0445c86b69e6'
var keyVaultSecretsOfficer = 'b86a8fe4-44ce-4948-aee5-eccb2c155cd7'
var monitoringMetricsPublisher = '3913510d-42f4-4e42-8a64-420c390055eb'

resource storageAccount 'Microsoft.Storage/storageAccounts@2023-05-01' existing = {
  name: storageAccountName
}

resource blobService 'Microsoft.Storage/storageAccounts/blobServices@2023-05-01' existing = {
  parent: storageAccount
  name: 'default'
}

resource blobContainers 'Microsoft.Storage/storageAccounts/blobServices/containers@2023-05-01' existing = [
  for name in blobContainerNames: {
    parent: blobService
    name: name
  }
]

resource queueService 'Microsoft.Storage/storageAccounts/queueServices@2023-05-01' existing = {
  parent: storageAccount
  name: 'default'
}

resource queues 'Microsoft.Storage/storageAccounts/queueServices/queues@2023-05-01' existing = [
  for name in queueNames: {
    parent: queueService
    name: name
  }
]

resource vault 'Microsoft.KeyVault/vaults@2023-07-01' existing = {
  name: keyVaultName
}

resource appReadSecrets 'Microsoft.KeyVault/vaults/secrets@2023-07-01' existing = [
  for name in appReadSecretNames: {
    parent: vault
    name: name
  }
]

resource refreshTokenSecret 'Microsoft.KeyVault/vaults/secrets@2023-07-01' existing = {
  parent: vault
  name: refreshTokenSecretName
}

resource userSecrets 'Microsoft.KeyVault/vaults/secrets@2023-07-01' existing = [
  for name in userSecretNames: {
    parent: vault
    name: name
  }
]

resource appInsights 'Microsoft.Insights/components@2020-02-02' existing = {
  name: appInsightsName
}

// Host and platform blobs, one container each: the host creates-if-missing, reads, writes, leases and deletes blobs
// in azure-webjobs-hosts and azure-webjobs-secrets; Flex Consumption stores and reads the deployment package in its
// container with this identity (functionAppConfig.deployment.storage in api.bicep).
resource blobContributor 'Microsoft.Authorization/roleAssignments@2022-04-01' = [
  for (name, i) in blobContainerNames: {
    name: guid(blobContainers[i].id, managedIdentityPrincipalId, storageBlobDataContributor)
    scope: blobContainers[i]
    properties: {
      roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', storageBlobDataContributor)
      principalId: managedIdentityPrincipalId
      principalType: 'ServicePrincipal'
    }
  }
]

// The queue triggers and the app's producers, one queue each: read, peek, update and delete messages (triggers),
// add messages (the app; the host when it moves a message to <queue>-poison), read the length (Flex scaling).
resource queueContributor 'Microsoft.Authorization/roleAssignments@2022-04-01' = [
  for (name, i) in queueNames: {
    name: guid(queues[i].id, managedIdentityPrincipalId, storageQueueDataContributor)
    scope: queues[i]
    properties: {
      roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', storageQueueDataContributor)
      principalId: managedIdentityPrincipalId
      principalType: 'ServicePrincipal'
    }
  }
]

// Account scope, which for this role is the table service and nothing else: the app's tables, and the host's
// diagnostic events, which it writes to a table per month (AzureFunctionsDiagnosticEvents<yyyyMM>) that it creates,
// finds by listing the account's tables, and deletes when old. No narrower scope can hold a table created later.
resource tableContributor 'Microsoft.Authorization/roleAssignments@2022-04-01' = {
  name: guid(storageAccount.id, managedIdentityPrincipalId, storageTableDataContributor)
  scope: storageAccount
  properties: {
    roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', storageTableDataContributor)
    principalId: managedIdentityPrincipalId
    principalType: 'ServicePrincipal'
  }
}

// Read access to each secret the app reads, one secret each (the billing callback URL among them when it is set:
// the platform resolves its Key Vault reference with this identity). Nothing else in the vault.
resource secretsUser 'Microsoft.Authorization/roleAssignments@2022-04-01' = [
  for (name, i) in appReadSecretNames: {
    name: guid(appReadSecrets[i].id, managedIdentityPrincipalId, keyVaultSecretsUser)
    scope: appReadSecrets[i]
    properties: {
      roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', keyVaultSecretsUser)
      principalId: managedIdentityPrincipalId
      principalType: 'ServicePrincipal'
    }
  }
]

// The narrowest grant that lets the app store the rotated refresh token: Secrets Officer scoped to that one
// secret (it includes reading it). The other secrets stay read-only for the app.
resource refreshTokenWriter 'Microsoft.Authorization/roleAssignments@2022-04-01' = {
  name: guid(refreshTokenSecret.id, managedIdentityPrincipalId, keyVaultSecretsOfficer)
  scope: refreshTokenSecret
  properties: {
    roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', keyVaultSecretsOfficer)
    principalId: managedIdentityPrincipalId
    principalType: 'ServicePrincipal'
  }
}

// Telemetry with Entra ID authentication (Application Insights has local authentication off).
resource metricsPublisher 'Microsoft.Authorization/roleAssignments@2022-04-01' = {
  name: guid(appInsights.id, managedIdentityPrincipalId, monitoringMetricsPublisher)
  scope: appInsights
  properties: {
    roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', monitoringMetricsPublisher)
    principalId: managedIdentityPrincipalId
    principalType: 'ServicePrincipal'
  }
}

// The operator stores the client and signing secrets and `npm run consent` reads the client secret and writes the
// refresh token: Secrets Officer on each of those secrets, never on the vault (no access to any other secret, no
// right to create new ones). Removed after setup by deployerSecretAccess = false in main.bicep plus one command
// (docs/deploy.md, "After setup").
resource operatorSecretsOfficer 'Microsoft.Authorization/roleAssignments@2022-04-01' = [
  for (name, i) in userSecretNames: if (!empty(userPrincipalId)) {
    name: guid(userSecrets[i].id, userPrincipalId, keyVaultSecretsOfficer)
    scope: userSecrets[i]
    properties: {
      roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', keyVaultSecretsOfficer)
      principalId: userPrincipalId
      principalType: userPrincipalType
    }
  }
]
