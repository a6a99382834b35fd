import type { ThrottleSettings } from './account-throttle';
import { LATEST_API_VERSION } from './api-versions';
import type { ValidFaultRule } from './fault-rules';
import { DEFAULT_EMULATOR_PORT, DEFAULT_EMULATOR_SCHEMA, startEmulator, type RunningEmulator } from './start-emulator';

/** `audience-sync emulator` options once the CLI has parsed them (see command-line-flags.ts for the parsers). */
export interface EmulatorCommandOptions {
  databaseUrl: string;
  schema?: string;
  host?: string;
  /** Default 4010. */
  port?: number;
  latencyMs?: number;
  /** Named after the repeatable `--fault` flag as commander stores it (an array, via collectFaultFlag). */
  fault?: ValidFaultRule[];
  faultSeed?: number;
  /** From `--throttle <calls>/<window>`, via parseThrottleFlag. */
  throttle?: ThrottleSettings;
  minAudienceRows?: number;
  requiredToken?: string;
}

export interface CommandOutput {
  info(line: string): void;
}

/**
 * Runs the emulator in the foreground until SIGINT or SIGTERM, then closes it cleanly. Prints where it listens;
 * never prints tokens or rows.
 */
export async function runEmulatorCommand(
  options: EmulatorCommandOptions,
  output: CommandOutput = { info: (line) => process.stdout.write(`${line}\n`) },
): Promise<RunningEmulator> {
  const { fault, ...settings } = options;
  const emulator = await startEmulator({ ...settings, faults: fault ?? [], port: options.port ?? DEFAULT_EMULATOR_PORT });
  const close = async (): Promise<void> => {
    process.off('SIGINT', onSignal);
    process.off('SIGTERM', onSignal);
    await emulator.close();
  };
  const onSignal = (): void => {
    output.info('Stopping the Graph API emulator');
    void close();
  };
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);
  output.info(`Graph API emulator listening on ${emulator.url} (state in schema ${options.schema ?? DEFAULT_EMULATOR_SCHEMA})`);
  output.info(`Graph calls: ${emulator.url}/${LATEST_API_VERSION}/...  Admin: ${emulator.url}/_emulator/audiences`);
  return { ...emulator, close };
}
