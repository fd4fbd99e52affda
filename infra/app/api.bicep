// The function app on Flex Consumption (Linux, Node 22), running as the user-assigned identity.
// Written as a plain Microsoft.Web/sites resource, the way the azd Flex Consumption quickstart first did, rather than
// the AVM web/site module: its Flex Consumption and app-settings parameters changed shape across recent versions
// (configs/appsettings, automatic App Insights settings), and the security settings below must be visible here so
// the infra tests can assert them.
param name string
param location string = resourceGroup().location
param tags object = {}
param appServicePlanId string
param applicationInsightsName string
param storageAccountName string
param deploymentStorageContainerName string
@description('Resource id of the user-assigned identity.')
param identityId string
@description('Client id of the user-assigned identity.')
param identityClientId string
param keyVaultUri string
param instanceMemoryMB int = 2048
param maximumInstanceCount int = 40
param partnerCenterTenantId string
param partnerCenterClientId string
param partnerCenterApiUrl string
param partnerCenterAuthorityHost string
@description('Versionless URI of the Key Vault secret holding the billing callback URL. Empty: no callbacks.')
param billingCallbackUrlSecretUri string = ''
param pollSchedule string = '0 */5 * * * *'
@description('Resource id of the Log Analytics workspace that receives the host\'s logs (FunctionAppLogs).')
param logAnalyticsWorkspaceId string
@description('Subnet (delegated to Microsoft.App/environments) the app joins for outbound traffic. Empty: none.')
param virtualNetworkSubnetId string = ''

resource stg 'Microsoft.Storage/storageAccounts@2023-05-01' existing = {
  name: storageAccountName
}

resource applicationInsights 'Microsoft.Insights/components@2020-02-02' existing = {
  name: applicationInsightsName
}

// Settings read by the Functions host and the Azure SDKs, not by shared/config.ts.
var platformSettings = {
  // Identity-based AzureWebJobsStorage: no connection string, no shared key.
  AzureWebJobsStorage__credential: 'managedidentity'
  AzureWebJobsStorage__blobServiceUri: stg.properties.primaryEndpoints.blob
  // DefaultAzureCredential picks the user-assigned identity with this.
  AZURE_CLIENT_ID: identityClientId
}

// The billing callback URL may carry a key, so it is a Key Vault secret (secrets.bicep) and the setting is a Key Vault
// reference: the platform resolves it with the app's identity (keyVaultReferenceIdentity below) and the app reads a
// plain setting. A reference the platform cannot resolve reaches the app as the reference text, which is no URL: the
// app then refuses to start, naming BILLING_CALLBACK_URL.
var billingCallbackUrlSetting = empty(billingCallbackUrlSecretUri)
  ? ''
  : '@Microsoft.KeyVault(SecretUri=${billingCallbackUrlSecretUri})'

// Settings read by shared/config.ts (SETTINGS). Secrets are not here: the app reads them from Key Vault.
// Defaults are written out so an operator can tune them in the portal without a redeployment.
var appSettings = {
  AzureWebJobsStorage__clientId: identityClientId
  AzureWebJobsStorage__queueServiceUri: stg.properties.primaryEndpoints.queue
  AzureWebJobsStorage__tableServiceUri: stg.properties.primaryEndpoints.table
  APPLICATIONINSIGHTS_CONNECTION_STRING: applicationInsights.properties.ConnectionString
  // Entra ID authentication for telemetry (the component has local auth disabled); the host reads it too.
  APPLICATIONINSIGHTS_AUTHENTICATION_STRING: 'ClientId=${identityClientId};Authorization=AAD'
  KEY_VAULT_URL: keyVaultUri
  SECRET_CACHE_TTL_SECONDS: '300'
  REFRESH_TOKEN_WRITE_INTERVAL_MINUTES: '60'
  PARTNER_CENTER_API_URL: partnerCenterApiUrl
  PARTNER_CENTER_AUTHORITY_HOST: partnerCenterAuthorityHost
  PARTNER_CENTER_TENANT_ID: partnerCenterTenantId
  PARTNER_CENTER_CLIENT_ID: partnerCenterClientId
  PARTNER_CENTER_APPLICATION_NAME: 'azure-plan-upgrades'
  PARTNER_CENTER_TIMEOUT_SECONDS: '30'
  PARTNER_CENTER_MAX_ATTEMPTS: '4'
  POLL_SCHEDULE: pollSchedule
  POLL_CONCURRENCY: '8'
  POLL_RATE_PER_SECOND: '10'
  POLL_TIME_BUDGET_SECONDS: '240'
  POLL_FIRST_DELAY_SECONDS: '30'
  POLL_MIN_INTERVAL_SECONDS: '60'
  POLL_MAX_INTERVAL_SECONDS: '1800'
  POLL_MAX_AGE_DAYS: '30'
  FLEET_SCAN_SCHEDULE: '0 0 2 * * *'
  // Always required in Azure: the app refuses to start with the local opt-out (`disabled`) there.
  WEBHOOK_SIGNATURES: 'required'
  WAVE_CREATES_PER_MINUTE: '30'
  BILLING_CALLBACK_URL: billingCallbackUrlSetting
  CALLBACK_TIMEOUT_SECONDS: '10'
  CALLBACK_MAX_ATTEMPTS: '8'
  CALLBACK_RETRY_BASE_SECONDS: '30'
}

resource functionApp 'Microsoft.Web/sites@2024-04-01' = {
  name: name
  location: location
  tags: union(tags, { 'azd-service-name': 'api' })
  kind: 'functionapp,linux'
  identity: {
    type: 'UserAssigned'
    userAssignedIdentities: {
      '${identityId}': {}
    }
  }
  properties: {
    serverFarmId: appServicePlanId
    httpsOnly: true
    // Key Vault references resolve with the user-assigned identity (the app has no system-assigned one).
    keyVaultReferenceIdentity: identityId
    virtualNetworkSubnetId: empty(virtualNetworkSubnetId) ? null : virtualNetworkSubnetId
    siteConfig: {
      minTlsVersion: '1.2'
      scmMinTlsVersion: '1.2'
      // No ftpsState: Flex Consumption has no FTP and refuses the property. FTP and basic-auth publishing are off
      // through the publishing credentials policies below.
      http20Enabled: true
    }
    functionAppConfig: {
      deployment: {
        storage: {
          type: 'blobContainer'
          value: '${stg.properties.primaryEndpoints.blob}${deploymentStorageContainerName}'
          authentication: {
            type: 'UserAssignedIdentity'
            userAssignedIdentityResourceId: identityId
          }
        }
      }
      scaleAndConcurrency: {
        instanceMemoryMB: instanceMemoryMB
        maximumInstanceCount: maximumInstanceCount
      }
      runtime: {
        name: 'node'
        version: '22'
      }
    }
  }

  resource settings 'config' = {
    name: 'appsettings'
    properties: union(appSettings, platformSettings)
  }

  // No FTP and no basic-auth publishing: azd deploys with Entra ID.
  resource ftpCredentials 'basicPublishingCredentialsPolicies' = {
    name: 'ftp'
    properties: {
      allow: false
    }
  }

  resource scmCredentials 'basicPublishingCredentialsPolicies' = {
    name: 'scm'
    properties: {
      allow: false
    }
  }
}

// The host's own logs (FunctionAppLogs: start-up, indexing, invocations, scale and storage errors) in the Log
// Analytics workspace, where they stay even when Application Insights samples or the app cannot start. Platform metrics
// stay in Azure Monitor, free; they are not copied.
resource functionAppDiagnostics 'Microsoft.Insights/diagnosticSettings@2021-05-01-preview' = {
  name: 'function-app-logs'
  scope: functionApp
  properties: {
    workspaceId: logAnalyticsWorkspaceId
    logs: [
      {
        category: 'FunctionAppLogs'
        enabled: true
      }
    ]
  }
}

output name string = functionApp.name
output uri string = 'https://${functionApp.properties.defaultHostName}'
