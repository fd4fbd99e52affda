// The refresh-token secret, created once so that a role assignment can be scoped to it (rbac.bicep). A role
// assignment's scope must exist when it is created, and the real value only arrives later from `npm run consent`.
// @onlyIfNotExists(): a redeployment never overwrites the token the app has rotated since.
// The initial value is a fixed, public marker, not a secret: until consent runs, the app's refresh fails with
// invalid_grant and the "refresh token invalid" alert tells the operator to run `npm run consent`.
param keyVaultName string
param secretName string

resource vault 'Microsoft.KeyVault/vaults@2023-07-01' existing = {
  name: keyVaultName
}

@onlyIfNotExists()
resource refreshToken 'Microsoft.KeyVault/vaults/secrets@2023-07-01' = {
  parent: vault
  name: secretName
  properties: {
    contentType: 'placeholder: run npm run consent'
    value: 'consent-required'
  }
}

output name string = refreshToken.name
