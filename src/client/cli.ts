#!/usr/bin/env node
import { readFileSync } from 'node:fs';
import { Command, InvalidArgumentError, Option } from 'commander';
import ms from 'ms';
import { ConfigurationError, readEnvironment, type Environment } from '../config/environment';
import {
  AD_ACCOUNT_PATTERN,
  AUDIENCE_KEY_PATTERN,
  CUSTOMER_FILE_SOURCES,
  DEFAULT_INTERVAL_MS,
  DEFAULT_MAX_CYCLES_PER_RUN,
  DEFAULT_MIN_SIZE,
  MIN_INTERVAL_MS,
  MIN_RECONCILE_EVERY_MS,
  type AudienceConfig,
  type CustomerFileSource,
} from '../workflows/audience-config';
import { LIMITED_DATA_USE_MODES, type LimitedDataUseMode } from '../matching/keys';
import { countryCode } from '../matching/normalizers/country';
import {
  lookalikeLabel,
  MAX_LOOKALIKE_PERCENT,
  MIN_LOOKALIKE_PERCENT,
  sameLookalike,
  type LookalikeSpec,
} from '../workflows/lookalike-spec';
import { describeLookalike } from '../workflows/status-text';
import { AudienceClient, UserFacingError } from './audience-client';
import { parseSourceQuery, tryQueryOnSource } from './source-check';
import { checkAdoptable } from './adoption-check';
import { formatCycle, formatHistory, formatList, formatPreview, formatStatus, printJson } from './output';
import type { AudiencePreview } from './preview-tally';
import type { AudienceSql } from '../db/audience-sql';
import { showCycleProgress } from './progress-display';
import { collectFaultFlag, parseThrottleFlag } from '../emulator/command-line-flags';

/** Example members `preview` and `connect` show. */
const DEFAULT_SAMPLE = 5;

function parseInterval(value: string): number {
  const parsed = ms(value as ms.StringValue);
  if (typeof parsed !== 'number' || !Number.isFinite(parsed) || parsed <= 0) {
    throw new InvalidArgumentError(`"${value}" is not a duration; use forms like 90s, 15m, 1h or 1d.`);
  }
  if (parsed < MIN_INTERVAL_MS) throw new InvalidArgumentError(`the interval must be at least ${ms(MIN_INTERVAL_MS)}.`);
  return parsed;
}

function parseReconcileEvery(value: string): number {
  const parsed = parseInterval(value);
  if (parsed < MIN_RECONCILE_EVERY_MS) {
    throw new InvalidArgumentError(`reconciling replaces the whole audience, so it runs at most once every ${ms(MIN_RECONCILE_EVERY_MS)}.`);
  }
  return parsed;
}

/** `us:1` → US, 1%: an ISO country code and a whole percent from 1 to 10, each lookalike once. */
function collectLookalike(value: string, previous: LookalikeSpec[]): LookalikeSpec[] {
  const match = /^([A-Za-z]{2}):(\d{1,2})$/.exec(value.trim());
  const percent = Number(match?.[2]);
  if (!match || countryCode(match[1] as string) !== (match[1] as string).toLowerCase()) {
    throw new InvalidArgumentError(`"${value}" is not COUNTRY:PERCENT with a two-letter country code, e.g. us:1.`);
  }
  if (!(percent >= MIN_LOOKALIKE_PERCENT && percent <= MAX_LOOKALIKE_PERCENT)) {
    throw new InvalidArgumentError(`a lookalike's percent is ${MIN_LOOKALIKE_PERCENT} to ${MAX_LOOKALIKE_PERCENT}, not ${match[2]}.`);
  }
  const spec = { country: (match[1] as string).toUpperCase(), percent };
  if (previous.some((known) => sameLookalike(known, spec))) throw new InvalidArgumentError(`the lookalike ${value} is given twice.`);
  return [...previous, spec];
}

function parseColumnName(value: string): string {
  if (value.trim() === '') throw new InvalidArgumentError('the value column needs a name.');
  return value.trim();
}

function parseObjectId(value: string): string {
  if (!/^\d+$/.test(value)) throw new InvalidArgumentError(`"${value}" is not a Custom Audience id; use its digits.`);
  return value;
}

function parseCount(value: string): number {
  if (!/^\d+$/.test(value)) throw new InvalidArgumentError(`"${value}" is not a whole number.`);
  return Number(value);
}

function parseAudienceKey(value: string): string {
  if (!AUDIENCE_KEY_PATTERN.test(value)) {
    throw new InvalidArgumentError(
      `"${value}" is not a valid audience key: use up to 100 letters, digits, '.', '_' or '-', starting with a letter or digit.`,
    );
  }
  return value;
}

function parseAdAccount(value: string): string {
  const normalized = /^\d+$/.test(value) ? `act_${value}` : value;
  if (!AD_ACCOUNT_PATTERN.test(normalized)) {
    throw new InvalidArgumentError(`"${value}" is not an ad account id; use act_<digits>.`);
  }
  return normalized;
}

function parseCountry(value: string): string {
  if (!/^[A-Za-z]{2}$/.test(value)) throw new InvalidArgumentError(`"${value}" is not a two-letter country code.`);
  return value.toLowerCase();
}

/**
 * The options `connect` and `preview` share: the audience's SQL, and the settings that change which members and
 * rows it yields, so that a preview is asked for exactly as the connection will be.
 */
function withAudienceQueryOptions(command: Command): Command {
  return command
    .addOption(new Option('--query <sql>', 'SELECT returning user_id plus traits').conflicts('queryFile'))
    .option('--query-file <file>', 'file holding the SELECT')
    .option('--default-country <cc>', 'country for phone numbers without a country code', parseCountry)
    .addOption(
      new Option('--limited-data-use <members>', 'Limited Data Use for members whose limited_data_use trait is true, or all').choices(
        LIMITED_DATA_USE_MODES,
      ),
    )
    .option('--value-column <column>', "a value-based audience: the column or traits key of each member's value", parseColumnName);
}

/** Opens a client for one command and always closes it, so the process exits as soon as the command is done. */
async function withClient<T>(work: (client: AudienceClient, environment: Environment) => Promise<T>): Promise<T> {
  const environment = readEnvironment();
  const client = await AudienceClient.connect(environment);
  try {
    return await work(client, environment);
  } finally {
    await client.close();
  }
}

const program = new Command()
  .name('audience-sync')
  .description('Keep Facebook Custom Audiences in step with SQL-defined audiences in PostgreSQL, on Temporal.')
  .showHelpAfterError('(run with --help for usage)')
  .configureOutput({ outputError: (text, write) => write(text) });

withAudienceQueryOptions(
  program
    .command('connect')
    .description('Connect an audience: create its Custom Audience once and sync it every interval (idempotent).')
    .requiredOption('--audience <key>', 'stable key of the audience', parseAudienceKey)
    .requiredOption('--name <name>', 'name of the Custom Audience at Meta')
    .requiredOption('--ad-account <act_id>', 'ad account, act_<digits>', parseAdAccount),
)
  .addOption(
    new Option('--interval <duration>', 'time between cycles').argParser(parseInterval).default(DEFAULT_INTERVAL_MS, ms(DEFAULT_INTERVAL_MS)),
  )
  .option('--min-size <n>', 'upload nothing below this many members', parseCount, DEFAULT_MIN_SIZE)
  .addOption(
    new Option('--customer-file-source <source>', 'where the data comes from (Meta asks)')
      .choices(CUSTOMER_FILE_SOURCES)
      .default('USER_PROVIDED_ONLY'),
  )
  .option('--custom-audience-id <id>', 'adopt this existing Custom Audience instead of creating one', parseObjectId)
  .option('--reconcile-every <duration>', "replace the audience's whole membership at Meta this often (e.g. 30d)", parseReconcileEvery)
  .option('--lookalike <country:percent>', 'keep a lookalike of the audience, e.g. us:1 (repeatable; percent 1 to 10)', collectLookalike, [])
  .option('--no-check', 'do not try the query on the source database (it is still parsed), nor read an adopted audience at Meta')
  .option('--json', 'print JSON')
  .action(async (options) => {
    const sourceSql = audienceSql(options);
    const environment = readEnvironment();
    const query = await parseSourceQuery(sourceSql);
    if (options.check) {
      await tryQueryOnSource(environment, query);
      if (options.customAudienceId) {
        await checkAdoptable(environment, options.adAccount, options.customAudienceId, options.valueColumn !== undefined);
      }
    }
    const config: AudienceConfig = {
      audienceKey: options.audience,
      name: String(options.name).trim(),
      adAccountId: options.adAccount,
      sourceSql,
      intervalMs: options.interval,
      minSize: options.minSize,
      customerFileSource: options.customerFileSource as CustomerFileSource,
      maxCyclesPerRun: DEFAULT_MAX_CYCLES_PER_RUN,
      ...(options.defaultCountry ? { defaultCountry: options.defaultCountry as string } : {}),
      ...(options.customAudienceId ? { customAudienceId: options.customAudienceId as string } : {}),
      ...(options.reconcileEvery ? { reconcileEveryMs: options.reconcileEvery as number } : {}),
      ...(options.limitedDataUse ? { limitedDataUse: options.limitedDataUse as LimitedDataUseMode } : {}),
      ...(options.valueColumn !== undefined ? { valueColumn: options.valueColumn as string } : {}),
      ...((options.lookalike as LookalikeSpec[]).length > 0 ? { lookalikes: options.lookalike as LookalikeSpec[] } : {}),
    };
    let preview: AudiencePreview | undefined;
    const result = await withClient(async (client) => {
      if (options.check) {
        // Once Temporal answers, as it reads the whole source: what the first cycle will find, before the workflow.
        preview = await previewQuery(environment, query, options);
        if (!options.json) console.log(formatPreview(preview, options.minSize));
      }
      return client.connectAudience(config);
    });
    if (options.json) return printJson({ audienceKey: config.audienceKey, ...result, ...(preview ? { preview } : {}) });
    if (result.started && config.customAudienceId) {
      console.log(
        `Connected ${config.audienceKey}: it adopts Custom Audience ${config.customAudienceId}, whose membership the first ` +
          'cycle replaces with the current members.',
      );
    } else if (result.started) {
      console.log(`Connected ${config.audienceKey}: its Custom Audience is created and the first cycle starts now.`);
    } else {
      console.log(`${config.audienceKey} is already connected; it keeps running as it is.`);
      if (result.differences.length > 0) {
        console.log(
          `  It differs from what you asked in: ${result.differences.join(', ')}. ` +
            'To change those, `disconnect` it and `connect` it again (its Custom Audience is found and reused).',
        );
      }
      if (result.differences.includes('valueColumn')) {
        console.log(
          '  A Custom Audience cannot switch between value-based and not: to change that, connect a new audience key.',
        );
      }
    }
  });

withAudienceQueryOptions(
  program
    .command('preview')
    .description(
      'Run an audience query as a cycle would and show its members, match-key coverage, dropped values and examples; ' +
        'creates nothing.',
    ),
)
  .option('--sample <n>', 'example members, and user ids per drop reason, to show', parseCount, DEFAULT_SAMPLE)
  .option('--json', 'print JSON')
  .action(async (options) => {
    const environment = readEnvironment();
    const preview = await previewQuery(environment, await parseSourceQuery(audienceSql(options)), options);
    if (options.json) printJson(preview);
    else console.log(formatPreview(preview));
  });

program
  .command('list')
  .description('List connected audiences with their state, member count and last sync.')
  .option('--all', 'include disconnected audiences')
  .option('--json', 'print JSON')
  .action(async (options) => {
    const listings = await withClient((client) => client.list(!!options.all));
    if (options.json) printJson(listings);
    else console.log(formatList(listings));
  });

program
  .command('status <key>')
  .description("Show an audience's state, counts, match-key coverage and what to do if it needs you.")
  .option('--json', 'print JSON')
  .action(async (key: string, options) => {
    const status = await withClient((client) => client.status(key));
    if (options.json) printJson(status);
    else console.log(formatStatus(status));
  });

for (const [verb, description] of [
  ['pause', 'Stop running cycles until resumed.'],
  ['resume', 'Resume cycles; also retries at once an audience that needs attention.'],
] as const) {
  program
    .command(`${verb} <key>`)
    .description(description)
    .option('--json', 'print JSON')
    .action(async (key: string, options) => {
      const status = await withClient((client) => client[verb](key));
      if (options.json) printJson(status);
      else console.log(`${key}: ${status.state}. ${status.summary}`);
    });
}

program
  .command('rename <key> <name>')
  .description('Rename the audience, also at Meta.')
  .option('--json', 'print JSON')
  .action(async (key: string, name: string, options) => {
    const status = await withClient((client) => client.rename(key, name));
    if (options.json) printJson(status);
    else console.log(`${key} is now named "${status.name}"; the Custom Audience is renamed at Meta right away.`);
  });

program
  .command('sync-now <key>')
  .description('Run a cycle now instead of at the next interval.')
  .option('--wait', 'return when the cycle has finished and print its counts')
  .option('--allow-mass-removal', 'let this cycle remove more than half of the audience')
  .option('--replace', "replace the audience's whole membership at Meta with the current members (usersreplace)")
  .option('--json', 'print JSON')
  .action(async (key: string, options) => {
    const result = await withClient((client) => {
      const request = client.syncNow(key, {
        wait: !!options.wait,
        allowMassRemoval: !!options.allowMassRemoval,
        replace: !!options.replace,
      });
      // Progress goes to stderr, so `sync-now --wait > file` still gets the summary alone, and --json its JSON.
      return options.wait && !options.json
        ? showCycleProgress(process.stderr, `${key}: `, () => client.cycleProgress(key), request)
        : request;
    });
    if (options.json) printJson(result);
    else if (result.cycle) console.log(`${key}: ${formatCycle(result.cycle)}`);
    else console.log(`${key}: a cycle starts now.`);
    // A script waiting on the cycle learns from the exit code whether it synced.
    if (result.cycle && !SUCCESSFUL_OUTCOMES.has(result.cycle.outcome)) process.exitCode = 1;
  });

const SUCCESSFUL_OUTCOMES = new Set(['synced', 'replaced', 'unchanged', 'below_minimum']);

const lookalikeCommand = program.command('lookalike').description("Change the lookalikes kept beside a running audience.");

lookalikeCommand
  .command('add <key> <country:percent>')
  .description('Keep another lookalike, e.g. us:1; it is made at Meta before this returns (once the audience holds 100 members).')
  .option('--json', 'print JSON')
  .action(async (key: string, spec: string, options) => {
    const [add] = collectLookalike(spec, []) as [LookalikeSpec];
    const { status } = await withClient((client) => client.changeLookalike(key, { add }));
    if (options.json) return printJson(status);
    const kept = status.lookalikes.find((known) => sameLookalike(known, add));
    console.log(`${key}: ${kept ? describeLookalike(kept) : 'lookalike added'}`);
  });

lookalikeCommand
  .command('remove <key> <country:percent>')
  .description('Stop keeping a lookalike; it stays at Meta unless --delete-at-meta.')
  .option('--delete-at-meta', 'delete it at Meta too')
  .option('--json', 'print JSON')
  .action(async (key: string, spec: string, options) => {
    const [remove] = collectLookalike(spec, []) as [LookalikeSpec];
    const result = await withClient((client) => client.changeLookalike(key, { remove, deleteAtMeta: !!options.deleteAtMeta }));
    if (options.json) return printJson(result);
    const atMeta =
      result.deletedAtMeta === undefined ? '; it stays at Meta.' : result.deletedAtMeta ? ', which was deleted at Meta.' : '; Meta did not hold it.';
    console.log(`${key}: no longer keeps the lookalike ${lookalikeLabel(remove)}${atMeta}`);
  });

program
  .command('disconnect <key>')
  .description('Stop syncing an audience. Its Custom Audience, members and lookalikes stay at Meta.')
  .action(async (key: string) => {
    await withClient((client) => client.disconnect(key));
    console.log(`Disconnected ${key}. Its Custom Audience stays at Meta; \`connect\` again to resume syncing it.`);
  });

program
  .command('history <key>')
  .description("Show an audience's recent sync cycles.")
  .option('--limit <n>', 'how many cycles', parseCount, 20)
  .option('--json', 'print JSON')
  .action(async (key: string, options) => {
    const { readHistory } = await import('./history');
    const cycles = await readHistory(readEnvironment(), key, options.limit);
    if (options.json) printJson(cycles);
    else console.log(formatHistory(cycles));
  });

program
  .command('normalize')
  .description("Normalize and hash JSON lines from stdin the way uploads do (see the README's match keys).")
  .option('--default-country <cc>', 'country for phone numbers without a country code', parseCountry)
  .addOption(
    new Option('--limited-data-use <members>', 'add the LDU columns, for members with the trait or for all').choices(
      LIMITED_DATA_USE_MODES,
    ),
  )
  .option('--value-column <column>', 'add LOOKALIKE_VALUE, read from this traits key', parseColumnName)
  .action(async (options) => {
    const { runNormalizeCommand } = await import('../matching/normalize-command');
    await runNormalizeCommand(process.stdin, process.stdout, {
      defaultCountry: options.defaultCountry,
      limitedDataUse: options.limitedDataUse,
      valueColumn: options.valueColumn,
    });
  });

program
  .command('worker')
  .description('Run a worker: executes the audience workflows and their activities.')
  .option('--metrics <host:port>', 'serve Prometheus metrics at http://HOST:PORT/metrics (default: METRICS_ADDRESS)')
  .action(async (options) => {
    const { startAudienceWorker } = await import('../worker/audience-worker');
    const { installWorkerRuntime } = await import('../worker/worker-runtime');
    const environment = readEnvironment(options.metrics ? { ...process.env, METRICS_ADDRESS: options.metrics as string } : process.env);
    if (environment.METRICS_ADDRESS) installWorkerRuntime({ metricsAddress: environment.METRICS_ADDRESS });
    const { finished } = await startAudienceWorker(environment);
    const served = environment.METRICS_ADDRESS ? ` Metrics at http://${environment.METRICS_ADDRESS}/metrics.` : '';
    console.log(`audience-sync worker running; Ctrl-C stops it.${served}`);
    await finished;
  });

program
  .command('emulator')
  .description("Run the Graph API emulator: Meta's Custom Audience contract, state in PostgreSQL (DATABASE_URL).")
  .option('--port <port>', 'port to listen on', parseCount, 4010)
  .option('--host <host>', 'address to listen on', '127.0.0.1')
  .option('--latency-ms <ms>', 'latency added to every Graph call', parseCount, 0)
  .option('--fault <rule>', "a fault rule, repeatable, e.g. 'error:code=2,rate=0.2' (see the README)", collectFaultFlag, [])
  .option('--fault-seed <n>', 'seed for fault rates, for reproducible runs', parseCount)
  .option('--throttle <calls/window>', 'per ad account call limit on a rolling window, e.g. 100/1m', parseThrottleFlag)
  .option('--min-audience-rows <n>', 'refuse removals leaving fewer rows (200/1870047)', parseCount, 0)
  .option('--schema <name>', 'PostgreSQL schema for its state', 'graph_emulator')
  .action(async (options) => {
    const { runEmulatorCommand } = await import('../emulator/emulator-command');
    await runEmulatorCommand({ databaseUrl: readEnvironment().DATABASE_URL, ...options });
  });

/** The audience's SQL, from --query or --query-file. */
function audienceSql(options: { query?: string; queryFile?: string }): string {
  const sourceSql = options.queryFile ? readQueryFile(options.queryFile) : options.query;
  if (!sourceSql?.trim()) throw new UserFacingError('Give the audience query with --query or --query-file.');
  return sourceSql;
}

/** The preview of `connect` and `preview`, with the options that change what members yield. */
async function previewQuery(
  environment: Environment,
  query: AudienceSql,
  options: { defaultCountry?: string; limitedDataUse?: LimitedDataUseMode; valueColumn?: string; sample?: number },
): Promise<AudiencePreview> {
  const { previewAudience } = await import('./audience-preview');
  return previewAudience(environment, query, {
    examples: options.sample ?? DEFAULT_SAMPLE,
    ...(options.defaultCountry ? { defaultCountry: options.defaultCountry } : {}),
    ...(options.limitedDataUse ? { limitedDataUse: options.limitedDataUse } : {}),
    ...(options.valueColumn !== undefined ? { valueColumn: options.valueColumn } : {}),
  });
}

function readQueryFile(file: string): string {
  try {
    return readFileSync(file, 'utf8');
  } catch (error) {
    throw new UserFacingError(`Cannot read the query file ${file}: ${(error as Error).message}`);
  }
}

program.parseAsync(process.argv).catch((error: unknown) => {
  const known = error instanceof UserFacingError || error instanceof ConfigurationError;
  console.error(`audience-sync: ${known ? (error as Error).message : String((error as Error)?.message ?? error)}`);
  process.exitCode = 1;
});
