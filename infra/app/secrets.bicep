// The Key Vault secrets this template creates. A role assignment's scope must exist when it is created, and the real
// values arrive only later (the operator stores them, `npm run consent` stores the refresh token), so every secret
// the app or the operator is granted is created here first, under a fixed public marker that is not a secret.
// @onlyIfNotExists(): a redeployment never overwrites a value stored since (or the token the app has rotated).
param keyVaultName string
@description('The refresh token\'s secret: created enabled, holding the marker "consent-required".')
param refreshTokenSecretName string
@description('Secrets the operator stores by hand: created as a disabled version until the operator stores a value.')
param operatorSecretNames array
@description('Name of the secret that holds the billing callback URL.')
param billingCallbackUrlSecretName string
@secure()
@description('The billing callback URL; may carry a credential (a key in its query string). Empty: no secret.')
param billingCallbackUrl string = ''

resource vault 'Microsoft.KeyVault/vaults@2023-07-01' existing = {
  name: keyVaultName
}

// Until consent runs, the app's refresh fails with invalid_grant and the "refresh token invalid" alert tells the
// operator to run `npm run consent`.
@onlyIfNotExists()
resource refreshToken 'Microsoft.KeyVault/vaults/secrets@2023-07-01' = {
  parent: vault
  name: refreshTokenSecretName
  properties: {
    contentType: 'placeholder: run npm run consent'
    value: 'consent-required'
  }
}

// Disabled, so the marker can never serve as a secret (a known signing secret would let anyone sign a webhook): Key
// Vault refuses to read a disabled version (403 SecretDisabled) and the app refuses the work that needs the secret,
// naming it. The operator's first `az keyvault secret set` adds an enabled version that becomes the current one.
@onlyIfNotExists()
resource operatorSecrets 'Microsoft.KeyVault/vaults/secrets@2023-07-01' = [
  for name in operatorSecretNames: {
    parent: vault
    name: name
    properties: {
      contentType: 'placeholder: store the value (docs/deploy.md, step 4)'
      value: 'not-set'
      attributes: {
        enabled: false
      }
    }
  }
]

// The template owns this value (the parameter is its source), so every provisioning writes the current one. The app
// setting BILLING_CALLBACK_URL references it (api.bicep), so the URL never lands in deployment history, outputs or
// plain app settings.
resource billingCallbackUrlSecret 'Microsoft.KeyVault/vaults/secrets@2023-07-01' = if (!empty(billingCallbackUrl)) {
  parent: vault
  name: billingCallbackUrlSecretName
  properties: {
    contentType: 'text/uri'
    value: billingCallbackUrl
  }
}

output refreshTokenSecretName string = refreshToken.name
output operatorSecretNames array = [for (name, i) in operatorSecretNames: operatorSecrets[i].name]
output billingCallbackUrlSecretName string = billingCallbackUrlSecretName
// The versionless URI: a Key Vault reference to it follows the newest version.
output billingCallbackUrlSecretUri string = '${vault.properties.vaultUri}secrets/${billingCallbackUrlSecretName}'
