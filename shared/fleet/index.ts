/** The fleet: every customer of the partner, why each can or cannot move, and the scan that finds out. */
export { runBackground, type BackgroundOptions, type BackgroundRunSummary } from './background';
export { classify, customerRecord, needsEligibility } from './classify';
export { FleetStore, type CustomerFilter } from './store';
export { requestFleetScan } from './request';
export {
  runFleetScanStep,
  TriageCache,
  SCAN_PAGE_SIZE,
  type ScanStepOptions,
  type ScanStepResult,
  type ScanStopReason,
} from './scan-run';
export { FLEET_STATES, NOT_ELIGIBLE_REASONS } from './records';
export { createWave, readWave, viewOf, waveView, commandWave, waveMembersWithStatus, unsettledMembers } from './waves';
export type { CreateWaveOutcome, WaveView, WaveOptions } from './waves';
export { runWaveStep, type WaveStepOptions, type WaveStepResult, type WaveRunReport } from './wave-run';
export type { WaveRequest, WaveMembersRequest, WavePlan, Exclusion, PlannedMember } from './wave-plan';
export type { CommandResult, WaveCommand } from './wave-state';
export {
  MAX_WAVE_MEMBERS,
  type MemberProgress,
  type WaveMember,
  type WaveProgress,
  type WaveRecord,
  type WaveState,
} from './wave-records';
export type {
  Classification,
  CustomerFacts,
  FleetCustomerRecord,
  FleetScanRecord,
  FleetState,
  NotEligibleReason,
  ScanCounts,
  ScanState,
  ScanTrigger,
} from './records';
