// What operators see without writing a query: log alert rules on Application Insights, an action group that
// emails them, and the workbook. Custom event names come from shared/telemetry/events.ts (a unit test checks every
// name used here); Partner Center calls are dependencies whose target is the Partner Center host.
param location string = resourceGroup().location
param tags object = {}
param resourceToken string
param appInsightsName string
@description('Email receiver of the action group. Empty: no receiver (add one in the portal).')
param alertEmail string = ''
@description('Minutes between poll runs; the heartbeat alert fires after three intervals without a run.')
@allowed([
  1
  2
  5
  10
  15
  20
])
param pollIntervalMinutes int = 5
param partnerCenterApiUrl string = 'https://api.partnercenter.microsoft.com'
@description('Share of Partner Center calls answered 429 that counts as a high rate.')
param throttledShareThreshold string = '0.2'
@description('Fewest 429 answers in the window before the rate alert fires (a few throttles are normal).')
param throttledMinimumCount int = 10
@description('Signature failures of POST webhooks in 15 minutes above which the alert fires (a few are a sender retrying with a stale timestamp).')
param signatureRejectedThreshold int = 10
@description('Hours without progress after which a fleet scan not finished counts as stuck (a scan reports progress every timer run that works on it).')
param scanStuckHours int = 2
@description('Hours without progress after which a wave neither finished nor paused counts as stuck.')
param waveStuckHours int = 6

resource appInsights 'Microsoft.Insights/components@2020-02-02' existing = {
  name: appInsightsName
}

// "https://api.partnercenter.microsoft.com/" -> "api.partnercenter.microsoft.com"
var partnerCenterHost = split(split(partnerCenterApiUrl, '://')[1], '/')[0]
// Three poll intervals, rounded up to a window size log alerts accept (and never shorter than the 5-minute
// evaluation frequency).
var heartbeatWindows = {
  '1': 'PT5M'
  '2': 'PT10M'
  '5': 'PT15M'
  '10': 'PT30M'
  '15': 'PT45M'
  '20': 'PT1H'
}
var heartbeatWindow = heartbeatWindows[string(pollIntervalMinutes)]
// The stuck alerts look back further than their window: a scan or wave that made progress up to two days ago and none
// since. "While the timer runs": a poll run completed in the last 30 minutes (else the heartbeat alert speaks).
var stuckLookback = 'P2D'
var timerRuns = 'toscalar(customEvents | where name == "PollRunCompleted" and timestamp > ago(30m) | count) > 0'

resource actionGroup 'Microsoft.Insights/actionGroups@2023-01-01' = {
  name: 'ag-upgrades-${resourceToken}'
  location: 'Global'
  tags: tags
  properties: {
    groupShortName: 'upgrades'
    enabled: true
    emailReceivers: empty(alertEmail)
      ? []
      : [
          {
            name: 'operators'
            emailAddress: alertEmail
            useCommonAlertSchema: true
          }
        ]
  }
}

var alerts = [
  {
    name: 'upgrade-failed'
    displayName: 'Upgrade failed'
    description: 'Partner Center reported a failed upgrade. Look up the upgrade id in the workbook and Partner Center.'
    severity: 1
    query: 'customEvents | where name == "UpgradeFailed"'
    operator: 'GreaterThan'
    threshold: 0
    windowSize: 'PT15M'
    evaluationFrequency: 'PT5M'
  }
  {
    name: 'upgrade-stale'
    displayName: 'Upgrade stuck (stale)'
    description: 'An upgrade did not reach a final status within POLL_MAX_AGE_DAYS and is no longer polled.'
    severity: 2
    query: 'customEvents | where name == "UpgradeStale"'
    operator: 'GreaterThan'
    threshold: 0
    windowSize: 'PT1H'
    evaluationFrequency: 'PT15M'
  }
  {
    name: 'poller-heartbeat'
    displayName: 'Poller silent'
    description: 'No poll run completed in three poll intervals: the timer is not running or every run fails.'
    severity: 1
    query: 'customEvents | where name == "PollRunCompleted"'
    operator: 'LessThan'
    threshold: 1
    windowSize: heartbeatWindow
    evaluationFrequency: 'PT5M'
  }
  {
    name: 'poison-messages'
    displayName: 'Messages in a poison queue'
    description: 'A queue message failed five times and was moved to a -poison queue (upgrade-tracking-poison or upgrade-notifications-poison).'
    severity: 2
    query: 'customEvents | where name == "PoisonMessage"'
    operator: 'GreaterThan'
    threshold: 0
    windowSize: 'PT15M'
    evaluationFrequency: 'PT5M'
  }
  {
    name: 'refresh-token-invalid'
    displayName: 'Partner Center refresh token invalid'
    description: 'The refresh token was rejected (expired, revoked or consent without MFA). Run `npm run consent` again.'
    severity: 0
    query: 'customEvents | where name in ("RefreshTokenInvalid", "PartnerCenterAuthFailed")'
    operator: 'GreaterThan'
    threshold: 0
    windowSize: 'PT15M'
    evaluationFrequency: 'PT5M'
  }
  {
    name: 'webhook-signatures-rejected'
    displayName: 'Burst of webhooks with bad signatures'
    description: 'Many POST webhooks were refused for their signature (WebhookSignatureRejected, with the reason and the endpoint): the billing system signs with a secret the app does not hold (a rotation half done) or a wrong clock, or someone with a function key is probing the endpoints.'
    severity: 2
    query: 'customEvents | where name == "WebhookSignatureRejected"'
    operator: 'GreaterThan'
    threshold: signatureRejectedThreshold
    windowSize: 'PT15M'
    evaluationFrequency: 'PT5M'
  }
  {
    name: 'partner-center-throttling'
    displayName: 'High rate of Partner Center 429s'
    description: 'Partner Center answers too many calls with 429: lower POLL_RATE_PER_SECOND or POLL_CONCURRENCY.'
    severity: 2
    query: 'dependencies | where target has "${partnerCenterHost}" | summarize calls = count(), throttled = countif(resultCode == "429") | where throttled >= ${throttledMinimumCount} and todouble(throttled) / calls > ${throttledShareThreshold}'
    operator: 'GreaterThan'
    threshold: 0
    windowSize: 'PT15M'
    evaluationFrequency: 'PT5M'
  }
  {
    name: 'fleet-scan-failed'
    displayName: 'Fleet scan failed'
    description: 'Partner Center refused the customer listing for good (the event says why); the fleet figures stay those of the last completed scan. Ask for a new scan (POST /api/fleet/scans) once the cause is fixed.'
    severity: 2
    query: 'customEvents | where name == "FleetScanFailed"'
    operator: 'GreaterThan'
    threshold: 0
    windowSize: 'PT15M'
    evaluationFrequency: 'PT5M'
  }
  {
    name: 'fleet-scan-stuck'
    displayName: 'Fleet scan stuck'
    description: 'A fleet scan not finished has made no progress for ${scanStuckHours} hours while the timer runs (the polls take every run\'s whole budget, another run holds its lease, or every run fails on it). GET /api/fleet/scans/current says where it stands and its last error.'
    severity: 2
    query: 'customEvents | where name in ("FleetScanRequested", "FleetScanStarted", "FleetScanProgress", "FleetScanCompleted", "FleetScanFailed") | extend scanId = tostring(customDimensions.scanId) | summarize lastEvent = max(timestamp), finished = countif(name in ("FleetScanCompleted", "FleetScanFailed")) by scanId | where finished == 0 and lastEvent < ago(${scanStuckHours}h) | where ${timerRuns}'
    operator: 'GreaterThan'
    threshold: 0
    windowSize: 'PT1H'
    evaluationFrequency: 'PT15M'
    lookback: stuckLookback
  }
  {
    name: 'wave-stuck'
    displayName: 'Wave stuck'
    description: 'A wave neither finished, cancelled nor paused has reported no progress for ${waveStuckHours} hours while the timer runs. Its last counts are on the workbook\'s Fleet tab.'
    severity: 2
    query: 'customEvents | where name in ("WaveCreated", "WaveProgress", "WavePaused", "WaveResumed", "WaveCancelled", "WaveCompleted") | extend waveId = tostring(customDimensions.waveId) | summarize arg_max(timestamp, name) by waveId | where name !in ("WavePaused", "WaveCancelled", "WaveCompleted") and timestamp < ago(${waveStuckHours}h) | where ${timerRuns}'
    operator: 'GreaterThan'
    threshold: 0
    windowSize: 'PT1H'
    evaluationFrequency: 'PT15M'
    lookback: stuckLookback
  }
]

resource alertRules 'Microsoft.Insights/scheduledQueryRules@2023-12-01' = [
  for alert in alerts: {
    name: 'alert-${alert.name}-${resourceToken}'
    location: location
    tags: tags
    kind: 'LogAlert'
    properties: {
      displayName: alert.displayName
      description: alert.description
      severity: alert.severity
      enabled: true
      scopes: [
        appInsights.id
      ]
      evaluationFrequency: alert.evaluationFrequency
      windowSize: alert.windowSize
      // The query's time range when it must see further back than its window (default: the window).
      overrideQueryTimeRange: alert.?lookback
      criteria: {
        allOf: [
          {
            query: alert.query
            timeAggregation: 'Count'
            operator: alert.operator
            threshold: alert.threshold
            failingPeriods: {
              numberOfEvaluationPeriods: 1
              minFailingPeriodsToAlert: 1
            }
          }
        ]
      }
      autoMitigate: true
      actions: {
        actionGroups: [
          actionGroup.id
        ]
      }
    }
  }
]

resource workbook 'Microsoft.Insights/workbooks@2023-06-01' = {
  name: guid(resourceGroup().id, appInsightsName, 'upgrades-workbook')
  location: location
  tags: tags
  kind: 'shared'
  properties: {
    displayName: 'Azure plan upgrades'
    category: 'workbook'
    sourceId: appInsights.id
    serializedData: loadTextContent('workbook.json')
  }
}

output actionGroupId string = actionGroup.id
output workbookId string = workbook.id
