export {
  startEmulator,
  DEFAULT_EMULATOR_PORT,
  DEFAULT_EMULATOR_SCHEMA,
  type EmulatorOptions,
  type RunningEmulator,
} from './start-emulator';
export { runEmulatorCommand, type EmulatorCommandOptions, type CommandOutput } from './emulator-command';
export { parseFaultFlag, collectFaultFlag, parseThrottleFlag, parseDuration } from './command-line-flags';
export { FAULT_KINDS, faultRuleSchema, type FaultKind, type FaultRule, type ValidFaultRule } from './fault-rules';
export type { CallLogEntry } from './call-log';
export type { ThrottleSettings } from './account-throttle';
export { SUPPORTED_API_VERSIONS, LATEST_API_VERSION } from './api-versions';
