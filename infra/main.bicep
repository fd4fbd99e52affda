// azure-plan-upgrades: everything `azd up` deploys. Subscription scope: one resource group per azd environment.
// Modules: Azure Verified Modules (br/public:avm/...) where they fit, local modules in ./app for the rest.
// A parameter that may carry a credential is @secure() (its value then stays out of deployment history and logs) and
// says so in its description ("may carry a credential"); nothing derived from it goes to an output or a plain app
// setting. The infra tests check this.
targetScope = 'subscription'

@minLength(1)
@maxLength(64)
@description('Name of the azd environment; used to derive a short unique token for every resource name.')
param environmentName string

@minLength(1)
@description('Region of every resource. Flex Consumption must be available there.')
@metadata({
  azd: {
    type: 'location'
  }
})
param location string

@description('Object id of the person (or pipeline) running azd: gets Key Vault Secrets Officer on each secret it stores (the client and signing secrets, and the refresh token `npm run consent` writes), not on the vault. Empty: no such grant.')
param principalId string = deployer().objectId

@description('Grant principalId its access to those secrets. Set false once the secrets are stored and the consent is done, then remove the existing grants (docs/deploy.md, "After setup"): a redeployment does not remove them, it only stops creating them.')
param deployerSecretAccess bool = true

@allowed([
  'User'
  'ServicePrincipal'
  'Group'
])
@description('Principal type of principalId.')
param principalType string = 'User'

@description('The partner tenant (GUID or domain) that consented to the app.')
param partnerCenterTenantId string

@description('The app registration (client id) with the delegated Partner Center permission.')
param partnerCenterClientId string

@description('Partner Center REST base URL.')
param partnerCenterApiUrl string = 'https://api.partnercenter.microsoft.com'

@description('Entra ID host of the token endpoint.')
param partnerCenterAuthorityHost string = 'https://login.microsoftonline.com'

@secure()
@description('Where final upgrade results are posted; may carry a credential (a key in its query string). Stored as the Key Vault secret billing-callback-url, which the BILLING_CALLBACK_URL app setting references. Empty: no callbacks.')
param billingCallbackUrl string = ''

@allowed([
  1
  2
  5
  10
  15
  20
])
@description('Minutes between two poll runs (POLL_SCHEDULE). The heartbeat alert fires after three intervals without a run.')
param pollIntervalMinutes int = 5

@description('Email address that receives the alerts. Empty: the action group has no receiver (add one in the portal).')
param alertEmail string = ''

@description('Flex Consumption instance memory (MB).')
@allowed([
  512
  2048
  4096
])
param instanceMemoryMB int = 2048

@description('Close the storage account and the vault to public networks: a virtual network with private endpoints and private DNS zones, and the function app joined to it. Off by default: it costs about $31 a month more, and the vault is then out of reach of `npm run consent` and `az keyvault secret set` from outside the network (docs/deploy.md, "Private networking").')
param privateNetworking bool = false

@minValue(40)
@maxValue(1000)
@description('Flex Consumption scale-out limit (40 to 1000). Partner Center rate limits, not CPU, bound this app: keep it at the minimum.')
param maximumInstanceCount int = 40

var resourceToken = toLower(uniqueString(subscription().id, environmentName, location))
var tags = {
  'azd-env-name': environmentName
}
var functionAppName = 'func-${resourceToken}'
var deploymentStorageContainerName = 'app-package-${take(functionAppName, 32)}-${take(toLower(uniqueString(functionAppName, resourceToken)), 7)}'

// The tables and queues the app uses: shared/storage/names.ts (TABLES, QUEUES). A unit test keeps them equal.
// The host moves a message to `<queue>-poison` after maxDequeueCount failures; creating those queues up front lets
// the poison-queue handler and the storage metrics see them from the first deployment.
var appTables = [
  'Tracking'
  'CustomerUpgrades'
  'EligibilityChecks'
  'PollRuns'
  'WebhookIds'
  'RejectedMessages'
  'Callbacks'
  'Health'
  'Fleet'
]
var appQueues = [
  'upgrade-tracking'
  'upgrade-tracking-poison'
  'upgrade-notifications'
  'upgrade-notifications-poison'
]

// The blob containers the Functions host uses with AzureWebJobsStorage (host id, locks and timer schedules; function
// keys), created up front with the deployment package's container so that app/rbac.bicep can grant the app's
// identity these three containers and no other.
var hostBlobContainerNames = [
  'azure-webjobs-hosts'
  'azure-webjobs-secrets'
]
var blobContainerNames = concat(hostBlobContainerNames, [deploymentStorageContainerName])

// The Key Vault secret names the app reads (keyVaultSecretName() in shared/secrets/types.ts). Names only: values
// are stored by the operator (docs/deploy.md) and by `npm run consent`; this template writes only public
// placeholders for them (app/secrets.bicep), so that roles can be scoped to each secret.
var refreshTokenSecretName = 'partner-center-refresh-token'
var operatorSecretNames = [
  'partner-center-client-secret'
  'webhook-signing-secret'
  'callback-signing-secret'
]
var secretNames = concat(operatorSecretNames, [refreshTokenSecretName])
// The billing callback URL, written by this template from the @secure() billingCallbackUrl.
var billingCallbackUrlSecretName = 'billing-callback-url'

// Storage data-plane logs in the Log Analytics workspace: writes and deletes of tables, queues and blobs (who changed
// the tracking data, which messages were sent and removed, who touched the host's keys and the package). Reads are
// left out: the queue triggers poll every 2 seconds (host.json maxPollingInterval) and every poll run reads the
// tables, so read logs would be most of the volume and the cost, for little audit value. Metrics stay in Azure
// Monitor, free, and are not copied.
var storageDiagnosticSettings = [
  {
    name: 'storage-writes-deletes'
    workspaceResourceId: logAnalytics.outputs.resourceId
    logCategoriesAndGroups: [
      {
        category: 'StorageWrite'
      }
      {
        category: 'StorageDelete'
      }
    ]
    metricCategories: []
  }
]

resource rg 'Microsoft.Resources/resourceGroups@2024-03-01' = {
  name: 'rg-${environmentName}'
  location: location
  tags: tags
}

// The function app's identity: storage, Key Vault and Application Insights all authenticate it through Entra ID.
module appIdentity 'br/public:avm/res/managed-identity/user-assigned-identity:0.4.1' = {
  name: 'appIdentity'
  scope: rg
  params: {
    name: 'id-func-${resourceToken}'
    location: location
    tags: tags
  }
}

module appServicePlan 'br/public:avm/res/web/serverfarm:0.1.1' = {
  name: 'appServicePlan'
  scope: rg
  params: {
    name: 'plan-${resourceToken}'
    sku: {
      name: 'FC1'
      tier: 'FlexConsumption'
    }
    reserved: true
    location: location
    tags: tags
  }
}

module storage 'br/public:avm/res/storage/storage-account:0.32.0' = {
  name: 'storage'
  scope: rg
  params: {
    name: 'st${resourceToken}'
    location: location
    tags: tags
    skuName: 'Standard_LRS'
    kind: 'StorageV2'
    allowBlobPublicAccess: false
    allowSharedKeyAccess: false
    minimumTlsVersion: 'TLS1_2'
    supportsHttpsTrafficOnly: true
    dnsEndpointType: 'Standard'
    // By default Flex Consumption, without a virtual network, reaches storage over its public endpoint; access is by
    // identity only. With privateNetworking, only through the private endpoints in the app's virtual network.
    publicNetworkAccess: privateNetworking ? 'Disabled' : 'Enabled'
    networkAcls: privateNetworking
      ? {
          defaultAction: 'Deny'
          bypass: 'None'
        }
      : {
          defaultAction: 'Allow'
          bypass: 'AzureServices'
        }
    privateEndpoints: privateNetworking ? network.outputs.storagePrivateEndpoints : []
    blobServices: {
      containers: [for container in blobContainerNames: { name: container }]
      diagnosticSettings: storageDiagnosticSettings
    }
    queueServices: {
      queues: [for queue in appQueues: { name: queue }]
      diagnosticSettings: storageDiagnosticSettings
    }
    tableServices: {
      tables: [for table in appTables: { name: table }]
      diagnosticSettings: storageDiagnosticSettings
    }
  }
}

module keyVault 'br/public:avm/res/key-vault/vault:0.13.0' = {
  name: 'keyVault'
  scope: rg
  params: {
    name: 'kv-${resourceToken}'
    location: location
    tags: tags
    sku: 'standard'
    enableRbacAuthorization: true
    enableSoftDelete: true
    softDeleteRetentionInDays: 90
    enablePurgeProtection: true
    enableVaultForDeployment: false
    enableVaultForTemplateDeployment: false
    enableVaultForDiskEncryption: false
    // As for storage: by default Flex Consumption without a virtual network, and the operator's `npm run consent`,
    // reach the vault over its public endpoint; every request is authorized by Entra ID and RBAC. With
    // privateNetworking, only through the private endpoint.
    publicNetworkAccess: privateNetworking ? 'Disabled' : 'Enabled'
    networkAcls: privateNetworking
      ? {
          bypass: 'None'
          defaultAction: 'Deny'
        }
      : {
          bypass: 'AzureServices'
          defaultAction: 'Allow'
        }
    privateEndpoints: privateNetworking ? network.outputs.vaultPrivateEndpoints : []
    // Every read and write of a secret, by whom, and every refused request (AuditEvent): the vault holds an admin's
    // refresh token. Metrics too (availability, latency, throttling), a few rows a minute.
    diagnosticSettings: [
      {
        name: 'vault-audit'
        workspaceResourceId: logAnalytics.outputs.resourceId
        logCategoriesAndGroups: [
          {
            category: 'AuditEvent'
          }
        ]
        metricCategories: [
          {
            category: 'AllMetrics'
          }
        ]
      }
    ]
  }
}

// Every secret a role is scoped to must exist first (app/secrets.bicep): placeholders for the values the operator
// and the consent store later, and the billing callback URL when it is set.
module secrets 'app/secrets.bicep' = {
  name: 'secrets'
  scope: rg
  params: {
    keyVaultName: keyVault.outputs.name
    refreshTokenSecretName: refreshTokenSecretName
    operatorSecretNames: operatorSecretNames
    billingCallbackUrlSecretName: billingCallbackUrlSecretName
    billingCallbackUrl: billingCallbackUrl
  }
}

// The private option's network (see privateNetworking).
module network 'app/network.bicep' = if (privateNetworking) {
  name: 'network'
  scope: rg
  params: {
    location: location
    tags: tags
    resourceToken: resourceToken
  }
}

module logAnalytics 'br/public:avm/res/operational-insights/workspace:0.11.1' = {
  name: 'logAnalytics'
  scope: rg
  params: {
    name: 'log-${resourceToken}'
    location: location
    tags: tags
    dataRetention: 30
  }
}

module appInsights 'br/public:avm/res/insights/component:0.6.0' = {
  name: 'appInsights'
  scope: rg
  params: {
    name: 'appi-${resourceToken}'
    location: location
    tags: tags
    workspaceResourceId: logAnalytics.outputs.resourceId
    // Entra ID only: the app sends telemetry as its managed identity (Monitoring Metrics Publisher).
    disableLocalAuth: true
  }
}

module api 'app/api.bicep' = {
  name: 'api'
  scope: rg
  params: {
    name: functionAppName
    location: location
    tags: tags
    appServicePlanId: appServicePlan.outputs.resourceId
    applicationInsightsName: appInsights.outputs.name
    storageAccountName: storage.outputs.name
    deploymentStorageContainerName: deploymentStorageContainerName
    identityId: appIdentity.outputs.resourceId
    identityClientId: appIdentity.outputs.clientId
    keyVaultUri: keyVault.outputs.uri
    instanceMemoryMB: instanceMemoryMB
    maximumInstanceCount: maximumInstanceCount
    partnerCenterTenantId: partnerCenterTenantId
    partnerCenterClientId: partnerCenterClientId
    partnerCenterApiUrl: partnerCenterApiUrl
    partnerCenterAuthorityHost: partnerCenterAuthorityHost
    // Only whether a URL is set reaches the app module (a reference to the secret, or nothing), never the URL.
    billingCallbackUrlSecretUri: empty(billingCallbackUrl) ? '' : secrets.outputs.billingCallbackUrlSecretUri
    pollSchedule: '0 */${pollIntervalMinutes} * * * *'
    logAnalyticsWorkspaceId: logAnalytics.outputs.resourceId
    virtualNetworkSubnetId: privateNetworking ? network.outputs.appSubnetId : ''
  }
  dependsOn: [
    rbac // the host needs its storage roles before it starts
  ]
}

module rbac 'app/rbac.bicep' = {
  name: 'rbac'
  scope: rg
  params: {
    storageAccountName: storage.outputs.name
    keyVaultName: keyVault.outputs.name
    appInsightsName: appInsights.outputs.name
    blobContainerNames: blobContainerNames
    queueNames: appQueues
    appReadSecretNames: concat(
      secrets.outputs.operatorSecretNames,
      empty(billingCallbackUrl) ? [] : [secrets.outputs.billingCallbackUrlSecretName]
    )
    refreshTokenSecretName: secrets.outputs.refreshTokenSecretName
    managedIdentityPrincipalId: appIdentity.outputs.principalId
    userPrincipalId: deployerSecretAccess ? principalId : ''
    userPrincipalType: principalType
    userSecretNames: concat(secrets.outputs.operatorSecretNames, [secrets.outputs.refreshTokenSecretName])
  }
}

module monitoring 'app/monitoring.bicep' = {
  name: 'monitoring'
  scope: rg
  params: {
    location: location
    tags: tags
    resourceToken: resourceToken
    appInsightsName: appInsights.outputs.name
    alertEmail: alertEmail
    pollIntervalMinutes: pollIntervalMinutes
    partnerCenterApiUrl: partnerCenterApiUrl
  }
}

output AZURE_LOCATION string = location
output AZURE_TENANT_ID string = tenant().tenantId
output AZURE_RESOURCE_GROUP string = rg.name
output AZURE_FUNCTION_NAME string = api.outputs.name
output SERVICE_API_NAME string = api.outputs.name
output SERVICE_API_URI string = api.outputs.uri
// `npm run consent` reads KEY_VAULT_URL from the azd environment (`azd env get-values`).
output KEY_VAULT_URL string = keyVault.outputs.uri
output KEY_VAULT_NAME string = keyVault.outputs.name
output KEY_VAULT_SECRET_NAMES array = secretNames
output PARTNER_CENTER_TENANT_ID string = partnerCenterTenantId
output PARTNER_CENTER_CLIENT_ID string = partnerCenterClientId
output PARTNER_CENTER_AUTHORITY_HOST string = partnerCenterAuthorityHost
output PARTNER_CENTER_API_URL string = partnerCenterApiUrl
output APPLICATIONINSIGHTS_NAME string = appInsights.outputs.name
output WORKBOOK_ID string = monitoring.outputs.workbookId
