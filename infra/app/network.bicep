// The network of the private option (main.bicep `privateNetworking`, off by default): a virtual network with a subnet
// the function app joins (Flex Consumption virtual network integration) and a subnet for private endpoints, and the
// private DNS zones that make the storage account's and the vault's usual host names resolve to those endpoints
// inside the network. main.bicep passes the endpoint descriptions below to the storage and Key Vault modules, which
// create the endpoints, and closes both resources to public networks. Shaped like Microsoft's Flex Consumption azd
// quickstart with its virtual network enabled, plus queue, table and vault endpoints (this app uses all three).
param location string = resourceGroup().location
param tags object = {}
param resourceToken string

var appSubnetName = 'snet-app'
var privateEndpointSubnetName = 'snet-private-endpoints'
var storageServices = [
  'blob'
  'queue'
  'table'
]

module virtualNetwork 'br/public:avm/res/network/virtual-network:0.6.1' = {
  name: 'virtualNetwork'
  params: {
    name: 'vnet-${resourceToken}'
    location: location
    tags: tags
    addressPrefixes: [
      '10.0.0.0/16'
    ]
    subnets: [
      {
        name: appSubnetName
        addressPrefix: '10.0.1.0/24'
        // Flex Consumption joins a subnet delegated to Microsoft.App/environments.
        delegation: 'Microsoft.App/environments'
        // The app calls Partner Center, Entra ID and the billing system on the internet through this subnet. Azure is
        // making new subnets private (no default outbound access); this keeps the way out without a NAT gateway.
        defaultOutboundAccess: true
      }
      {
        name: privateEndpointSubnetName
        addressPrefix: '10.0.2.0/24'
        privateEndpointNetworkPolicies: 'Disabled'
      }
    ]
  }
}

var privateEndpointSubnetId = '${virtualNetwork.outputs.resourceId}/subnets/${privateEndpointSubnetName}'

module storageDnsZones 'br/public:avm/res/network/private-dns-zone:0.7.1' = [
  for service in storageServices: {
    name: 'privateDnsZone-${service}'
    params: {
      name: 'privatelink.${service}.${environment().suffixes.storage}'
      location: 'global'
      tags: tags
      virtualNetworkLinks: [
        {
          virtualNetworkResourceId: virtualNetwork.outputs.resourceId
          registrationEnabled: false
        }
      ]
    }
  }
]

// The Key Vault private DNS zone of Azure's public cloud (the one Partner Center runs in).
module vaultDnsZone 'br/public:avm/res/network/private-dns-zone:0.7.1' = {
  name: 'privateDnsZone-vault'
  params: {
    name: 'privatelink.vaultcore.azure.net'
    location: 'global'
    tags: tags
    virtualNetworkLinks: [
      {
        virtualNetworkResourceId: virtualNetwork.outputs.resourceId
        registrationEnabled: false
      }
    ]
  }
}

output appSubnetId string = '${virtualNetwork.outputs.resourceId}/subnets/${appSubnetName}'
// One private endpoint per storage service the app and the host use (no file endpoint: Flex Consumption uses none).
output storagePrivateEndpoints array = [
  for (service, i) in storageServices: {
    service: service
    subnetResourceId: privateEndpointSubnetId
    privateDnsZoneGroup: {
      privateDnsZoneGroupConfigs: [
        {
          privateDnsZoneResourceId: storageDnsZones[i].outputs.resourceId
        }
      ]
    }
  }
]
output vaultPrivateEndpoints array = [
  {
    service: 'vault'
    subnetResourceId: privateEndpointSubnetId
    privateDnsZoneGroup: {
      privateDnsZoneGroupConfigs: [
        {
          privateDnsZoneResourceId: vaultDnsZone.outputs.resourceId
        }
      ]
    }
  }
]
