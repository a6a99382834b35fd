/**
 * Match-key throughput: normalizes and hashes synthetic members with buildMemberRows on one core and compares the
 * rate of hashed values it produces with the raw single-core `crypto.hash('sha256')` rate on comparable strings
 * (normalized values of the same synthetic members), measured in the same run. Target: at least half of that
 * ceiling.
 *
 *   npm run build && npm run bench:matching -- [--members 1000000] [--national-phone-share 0.1]
 *
 * Members are processed in chunks; after each chunk the raw rate is measured on as many hashes as the chunk
 * produced, so both see the same machine load. "hashes/s" counts every hashed value in the rows, memoized ones
 * included (see encodeValue), since that is the work a sync needs done. The share of the ceiling is given for the
 * median chunk, which other processes on a shared machine disturb least, and from the totals.
 */
import { AUDIENCE_SCHEMA, UNHASHED_KEYS } from '../src/matching/keys';
import { buildMemberRows, type MemberRows } from '../src/matching/member-rows';
import { normalizeValue } from '../src/matching/normalize';
import { sha256Hex } from '../src/matching/sha256';
import { matchKeyForName } from '../src/matching/trait-aliases';

const DEFAULT_MEMBERS = 1_000_000;
const CHUNK_SIZE = 1_000;
const CEILING_SAMPLE_MEMBERS = 20_000;
const TARGET_SHARE_OF_CEILING = 0.5;

let seed = 0x9e3779b9;
/** mulberry32: a fixed-seed generator so that every run measures the same members. */
function random(): number {
  seed = (seed + 0x6d2b79f5) | 0;
  let t = seed;
  t = Math.imul(t ^ (t >>> 15), t | 1);
  t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
  return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
}
const pick = <T>(values: readonly T[]): T => values[Math.floor(random() * values.length)];
/** Frequencies fall off steeply, as in real lists of names and cities: the first tenth takes almost half the picks. */
const pickSkewed = <T>(values: readonly T[]): T => values[Math.floor(values.length * random() ** 3)];
const digit = (): string => String(Math.floor(random() * 10));
const digits = (count: number): string => String(Math.floor(random() * 10 ** count)).padStart(count, '0');
const letter = (): string => String.fromCharCode(65 + Math.floor(random() * 26));

/** Syllables of made-up names; a few carry accents or letters outside a–z, as real lists do. */
const SYLLABLES = ['ma', 'ri', 'jo', 'an', 'el', 'li', 'sa', 'ta', 'ne', 'ro', 'ka', 'de', 'lu', 'mi', 'so', 'be',
  'ra', 'chi', 'zo', 'vin', 'ter', 'son', 'berg', 'ton', 'lé', 'mü', 'ø', 'ço'];

/** `count` distinct capitalized names of at least `syllables` syllables, some with an apostrophe, hyphen or space. */
function syntheticNames(count: number, syllables: number, separator: string): string[] {
  const names: string[] = [];
  for (let i = 0; i < count; i++) {
    let name = '';
    for (let n = i + SYLLABLES.length ** (syllables - 1), k = 0; n > 0 || k < syllables; n = Math.floor(n / SYLLABLES.length), k++) {
      name += SYLLABLES[n % SYLLABLES.length];
    }
    name = name[0].toUpperCase() + name.slice(1);
    if (i % 41 === 7) name = `O'${name}`;
    if (i % 37 === 5) name = `${name}${separator}${names[i - 1] ?? 'Ann'}`;
    names.push(name);
  }
  return names;
}

// Cardinalities of a million-member US-heavy audience: a few thousand first names and cities, tens of thousands of
// last names and ZIP codes.
const FIRST_NAMES = syntheticNames(5_000, 2, '-');
const LAST_NAMES = syntheticNames(50_000, 3, '-');
const CITIES = syntheticNames(8_000, 2, ' ');
const US_ZIP_CODES = 40_000;
const DOMAINS = ['example.com', 'gmail.com', 'yahoo.co.uk', 'outlook.fr', 'mail.example.org', 'web.de'];

interface Place {
  country: readonly string[];
  state: () => string;
  zip: () => string;
  /** International spellings (+ or 00) with digits and plain separators: the fast path. */
  internationalPhones: ReadonlyArray<() => string>;
  /**
   * National spellings, read with the member's country and checked without parsing, and `(0)` trunk notation after
   * a calling code, which libphonenumber-js parses (about as costly as 20 hashes).
   */
  nationalPhones: ReadonlyArray<() => string>;
}

/** Real area codes: libphonenumber-js checks which NANP country a national number belongs to. */
const areaCode = (): string => pick(['212', '202', '415', '312', '617', '305', '713', '206', '404', '303', '646', '213']);
const exchange = (): string => `${2 + Math.floor(random() * 8)}${digits(2)}`;
/** London numbers are 020 followed by 3, 7 or 8 and seven more digits. */
const londonNumber = (): string => `${pick(['3', '7', '8'])}${digits(3)} ${digits(4)}`;
const usZip = (): string => {
  const zip = String(10_000 + Math.floor(random() * US_ZIP_CODES));
  return random() < 0.2 ? `${zip}-${digits(4)}` : zip;
};
const US_STATES = ['NY', 'New York', 'CA', 'California', 'TX', 'Texas', 'FL', 'Florida', 'DC', 'District of Columbia',
  'il', 'Illinois', 'Pennsylvania', 'Ohio', 'GA', 'N.C.', 'Michigan', 'WA'];
const US: Place = {
  country: ['US', 'us', 'United States', 'USA', 'United States of America'],
  state: () => pickSkewed(US_STATES),
  zip: usZip,
  internationalPhones: [
    () => `+1${areaCode()}${exchange()}${digits(4)}`,
    () => `+1 (${areaCode()}) ${exchange()}-${digits(4)}`,
    () => `001-${areaCode()}-${exchange()}-${digits(4)}`,
  ],
  nationalPhones: [() => `(${areaCode()}) ${exchange()}-${digits(4)}`, () => `${areaCode()}.${exchange()}.${digits(4)}`],
};
/** US members three times out of five, the rest spread over four other countries. */
const PLACES: readonly Place[] = [
  US,
  US,
  US,
  {
    country: ['GB', 'UK', 'United Kingdom'],
    state: () => pick(['England', 'Scotland', 'Wales']),
    zip: () => `${letter()}${letter()}${digit()} ${digit()}${letter()}${letter()}`,
    internationalPhones: [() => `+44 20 ${londonNumber()}`, () => `+447${digits(9)}`],
    nationalPhones: [() => `+44 (0) 20 ${londonNumber()}`, () => `020 ${londonNumber()}`],
  },
  {
    country: ['FR', 'France'],
    state: () => pick(['Auvergne-Rhône-Alpes', 'Île-de-France', 'Bretagne']),
    zip: () => digits(5),
    internationalPhones: [() => `0033 6 ${digits(2)} ${digits(2)} ${digits(2)} ${digits(2)}`, () => `+33 6${digits(8)}`],
    nationalPhones: [() => `06.${digits(2)}.${digits(2)}.${digits(2)}.${digits(2)}`],
  },
  {
    country: ['BR', 'Brazil'],
    state: () => pick(['SP', 'RJ', 'São Paulo']),
    zip: () => `${digits(5)}-${digits(3)}`,
    internationalPhones: [() => `+55 11 9${digits(4)}-${digits(4)}`],
    nationalPhones: [() => `(11) 9${digits(4)}-${digits(4)}`],
  },
  {
    country: ['CH', 'Switzerland'],
    state: () => pick(['ZH', 'Genève', 'Bern']),
    zip: () => `${1 + Math.floor(random() * 9)}${digits(3)}`,
    internationalPhones: [() => `+41 44 ${digits(3)} ${digits(2)} ${digits(2)}`],
    nationalPhones: [() => `044 ${digits(3)} ${digits(2)} ${digits(2)}`],
  },
];
/**
 * Default share of phones in national spellings. Sources filled by web forms and CRMs mostly hold E.164;
 * `--national-phone-share` shows other mixes.
 */
const DEFAULT_NATIONAL_PHONE_SHARE = 0.1;
/** Bad values real sources hold, so that the drop paths run too. */
const PLACEHOLDER_SHARE = 0.01;

function syntheticMember(index: number, nationalPhoneShare: number): Record<string, unknown> {
  const first = pickSkewed(FIRST_NAMES);
  const last = pickSkewed(LAST_NAMES);
  const place = pick(PLACES);
  const email = (n: number): string => `${first}.${last}${index}${n}@${pick(DOMAINS)}`.replace(/['\s]/g, '');
  const traits: Record<string, unknown> = {
    email: random() < PLACEHOLDER_SHARE ? 'n/a' : random() < 0.1 ? [email(1), ` ${email(2).toUpperCase()} `] : email(1),
    phone_number:
      random() < PLACEHOLDER_SHARE
        ? '+0000000000'
        : pick(random() < nationalPhoneShare ? place.nationalPhones : place.internationalPhones)(),
    first_name: first,
    last_name: last,
    city: pickSkewed(CITIES),
    state: place.state(),
    zip: place.zip(),
    country_code: pick(place.country),
  };
  // Source columns are always there, NULL when unknown; a jsonb `traits` object (a fifth of the members) only holds
  // the traits that are known.
  const gender = random() < 0.5 ? pick(['Male', 'female', 'M', 'F', 'woman']) : null;
  const birthday = random() < 0.3 ? `${1940 + Math.floor(random() * 65)}-0${1 + Math.floor(random() * 9)}-1${digit()}` : null;
  if (random() >= 0.2) return { user_id: `u${index}`, ...traits, gender, birthday };
  if (gender !== null) traits.gender = gender;
  if (birthday !== null) traits.birthday = birthday;
  return { user_id: `u${index}`, traits };
}

const HASHED_SLOTS = AUDIENCE_SCHEMA.map((key, slot) => ({ key, slot })).filter(({ key }) => !UNHASHED_KEYS.has(key));

/** Distinct hashed values a member's rows carry: how many hashes buildMemberRows produced for it. */
function hashedValueCount({ rows }: MemberRows): number {
  let count = 0;
  for (const { slot } of HASHED_SLOTS) {
    if (rows.length === 1) count += rows[0][slot] === '' ? 0 : 1;
    else count += new Set(rows.map((row) => row[slot]).filter((value) => value !== '')).size;
  }
  return count;
}

/** Normalized values of sample members: the kind of strings buildMemberRows hashes, for the raw hashing rate. */
function comparableStrings(nationalPhoneShare: number): string[] {
  const strings: string[] = [];
  for (let i = 0; i < CEILING_SAMPLE_MEMBERS; i++) {
    const member = syntheticMember(i, nationalPhoneShare);
    const traits = (member.traits ?? member) as Record<string, unknown>;
    for (const [name, value] of Object.entries(traits)) {
      const target = matchKeyForName(name);
      if (target === undefined || UNHASHED_KEYS.has(target)) continue;
      for (const one of Array.isArray(value) ? value : [value]) {
        const result = normalizeValue(target, one, { defaultCountry: 'us' });
        if (result.ok) strings.push(result.value);
      }
    }
  }
  return strings;
}

/**
 * Seconds to hash `count` of the comparable strings with crypto.hash. It runs after every chunk for as many hashes
 * as the chunk produced, so that both rates are measured under the same machine load.
 */
function timeRawHashing(strings: readonly string[], offset: number, count: number): number {
  const started = process.hrtime.bigint();
  for (let i = 0; i < count; i++) sha256Hex(strings[(offset + i) % strings.length]);
  return Number(process.hrtime.bigint() - started) / 1e9;
}

interface BenchmarkOptions {
  members: number;
  nationalPhoneShare: number;
}

function parseOptions(argv: readonly string[]): BenchmarkOptions {
  const flagValue = (flag: string): number | undefined => {
    const index = argv.indexOf(flag);
    return index === -1 ? undefined : Number(argv[index + 1]);
  };
  const members = flagValue('--members') ?? DEFAULT_MEMBERS;
  if (!Number.isInteger(members) || members <= 0) throw new Error('--members expects a positive integer');
  const nationalPhoneShare = flagValue('--national-phone-share') ?? DEFAULT_NATIONAL_PHONE_SHARE;
  if (!(nationalPhoneShare >= 0 && nationalPhoneShare <= 1)) throw new Error('--national-phone-share expects 0..1');
  return { members, nationalPhoneShare };
}

function main(): void {
  const { members, nationalPhoneShare } = parseOptions(process.argv.slice(2));
  const strings = comparableStrings(nationalPhoneShare);

  let seconds = 0;
  let rawHashingSeconds = 0;
  /** Per chunk: time raw hashing took ÷ time buildMemberRows took for the same number of hashes. */
  const chunkShares: number[] = [];
  let rows = 0;
  let hashedValues = 0;
  const droppedByReason = new Map<string, number>();
  for (let start = 0; start < members; start += CHUNK_SIZE) {
    const chunk: Record<string, unknown>[] = [];
    for (let i = start; i < Math.min(start + CHUNK_SIZE, members); i++) chunk.push(syntheticMember(i, nationalPhoneShare));
    const results: MemberRows[] = new Array(chunk.length);
    const started = process.hrtime.bigint();
    for (let i = 0; i < chunk.length; i++) results[i] = buildMemberRows(chunk[i], { defaultCountry: 'us' });
    const chunkSeconds = Number(process.hrtime.bigint() - started) / 1e9;
    seconds += chunkSeconds;
    let chunkHashes = 0;
    for (const result of results) {
      rows += result.rows.length;
      chunkHashes += hashedValueCount(result);
      for (const { key, reason } of result.dropped) {
        droppedByReason.set(`${key}:${reason}`, (droppedByReason.get(`${key}:${reason}`) ?? 0) + 1);
      }
    }
    const chunkRawHashingSeconds = timeRawHashing(strings, hashedValues, chunkHashes);
    rawHashingSeconds += chunkRawHashingSeconds;
    chunkShares.push(chunkRawHashingSeconds / chunkSeconds);
    hashedValues += chunkHashes;
  }

  const hashCeiling = hashedValues / rawHashingSeconds;
  const droppedValues = [...droppedByReason.values()].reduce((sum, count) => sum + count, 0);
  const hashesPerSecond = hashedValues / seconds;
  // Other processes on the machine slow some chunks down; the median chunk is what one core sustains.
  const shareOfCeiling = median(chunkShares);
  const summary = {
    members,
    nationalPhoneShare,
    rows,
    droppedValues,
    seconds: round(seconds, 3),
    membersPerSecond: Math.round(members / seconds),
    rowsPerSecond: Math.round(rows / seconds),
    hashesPerSecond: Math.round(hashesPerSecond),
    rawSha256PerSecond: Math.round(hashCeiling),
    shareOfCeiling: round(shareOfCeiling, 3),
    shareOfCeilingFromTotals: round(hashesPerSecond / hashCeiling, 3),
    target: TARGET_SHARE_OF_CEILING,
    meetsTarget: shareOfCeiling >= TARGET_SHARE_OF_CEILING,
    droppedByReason: Object.fromEntries([...droppedByReason].sort(([a], [b]) => a.localeCompare(b))),
    node: process.version,
  };
  const table: [string, string][] = [
    ['members', members.toLocaleString('en-US')],
    ['phones in national spellings', percent(nationalPhoneShare)],
    ['rows', rows.toLocaleString('en-US')],
    ['dropped values', `${droppedValues.toLocaleString('en-US')} ${JSON.stringify(summary.droppedByReason)}`],
    ['time (1 core)', `${summary.seconds} s`],
    ['members/s', summary.membersPerSecond.toLocaleString('en-US')],
    ['rows/s', summary.rowsPerSecond.toLocaleString('en-US')],
    ['hashes/s (buildMemberRows)', summary.hashesPerSecond.toLocaleString('en-US')],
    ['raw crypto.hash sha256/s', summary.rawSha256PerSecond.toLocaleString('en-US')],
    ['share of ceiling, median chunk', `${percent(shareOfCeiling)} (target ${percent(TARGET_SHARE_OF_CEILING)})`],
    ['share of ceiling, totals', percent(hashesPerSecond / hashCeiling)],
  ];
  const width = Math.max(...table.map(([label]) => label.length));
  for (const [label, value] of table) console.log(`${label.padEnd(width)}  ${value}`);
  console.log(JSON.stringify(summary));
}

function percent(share: number): string {
  return `${(share * 100).toFixed(1)}%`;
}

function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.floor(sorted.length / 2)];
}

function round(value: number, digits: number): number {
  return Number(value.toFixed(digits));
}

main();
