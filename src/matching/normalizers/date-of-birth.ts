import { accepted, REJECTED, type Normalized } from '../normalized';

/**
 * DOBY (`YYYY`, 1900 to the current year), DOBM (`01`–`12`) and DOBD (`01`–`31`).
 *
 * Each of the three keys also accepts a full date and takes its own part of it, so a `birthday` column holding
 * `1987-03-09` fills all three. Accepted full dates: `YYYY-MM-DD` (also with `/` or `.`, and with a time part after
 * `T` or a space, which is ignored rather than converted between time zones), `YYYYMMDD`, `DD.MM.YYYY`,
 * `MM/DD/YYYY` or `MM-DD-YYYY` (read day-first only when the first number exceeds 12: US order is the common one in
 * exported data), and English month names (`March 9, 1987`, `9 Mar 1987`).
 */

const FIRST_BIRTH_YEAR = 1900;

export interface CalendarDate {
  year: number;
  month: number;
  day: number;
}

const MONTH_BY_NAME: ReadonlyMap<string, number> = new Map(
  ['january', 'february', 'march', 'april', 'may', 'june', 'july', 'august', 'september', 'october', 'november', 'december']
    .flatMap((name, index): [string, number][] => [
      [name, index + 1],
      [name.slice(0, 3), index + 1],
    ])
    .concat([['sept', 9]]),
);

const YEAR_FIRST = /^(\d{4})([-/.])(\d{1,2})\2(\d{1,2})(?:[T\s].*)?$/;
const COMPACT = /^(\d{4})(\d{2})(\d{2})$/;
const YEAR_LAST = /^(\d{1,2})([-/.])(\d{1,2})\2(\d{4})$/;
const WORD_SEPARATORS = /[\s,.\-/]+/;
const DAY_NUMBER = /^(\d{1,2})(?:st|nd|rd|th)?$/;
const FOUR_DIGITS = /^\d{4}$/;

export function normalizeBirthYear(text: string): Normalized {
  const date = parseCalendarDate(text);
  if (date) return birthYear(date.year);
  return FOUR_DIGITS.test(text) ? birthYear(Number(text)) : REJECTED.invalid_date;
}

export function normalizeBirthMonth(text: string): Normalized {
  const date = parseCalendarDate(text);
  if (date) return accepted(twoDigits(date.month));
  const month = MONTH_BY_NAME.get(text.toLowerCase()) ?? dayOrMonthNumber(text);
  if (month === undefined) return REJECTED.invalid_date;
  return month >= 1 && month <= 12 ? accepted(twoDigits(month)) : REJECTED.out_of_range;
}

export function normalizeBirthDay(text: string): Normalized {
  const date = parseCalendarDate(text);
  if (date) return accepted(twoDigits(date.day));
  const day = dayOrMonthNumber(text);
  if (day === undefined) return REJECTED.invalid_date;
  return day >= 1 && day <= 31 ? accepted(twoDigits(day)) : REJECTED.out_of_range;
}

/** The calendar date a database `date` value stands for: node-postgres builds it at local midnight. */
export function calendarDateText(date: Date): string | undefined {
  if (Number.isNaN(date.getTime())) return undefined;
  return `${String(date.getFullYear()).padStart(4, '0')}-${twoDigits(date.getMonth() + 1)}-${twoDigits(date.getDate())}`;
}

function birthYear(year: number): Normalized {
  return year >= FIRST_BIRTH_YEAR && year <= currentYear() ? accepted(String(year)) : REJECTED.out_of_range;
}

let currentYearCache = { year: 0, until: 0 };

/** The local calendar year, looked up again only once the year it remembers is over. */
function currentYear(): number {
  const now = Date.now();
  if (now >= currentYearCache.until) {
    const year = new Date(now).getFullYear();
    currentYearCache = { year, until: new Date(year + 1, 0, 1).getTime() };
  }
  return currentYearCache.year;
}

function dayOrMonthNumber(text: string): number | undefined {
  const match = DAY_NUMBER.exec(text.toLowerCase());
  return match ? Number(match[1]) : undefined;
}

/** The date a full date of birth spells, in any of the accepted formats; undefined for anything else. */
export function parseCalendarDate(text: string): CalendarDate | undefined {
  if (text.length < 6) return undefined;
  let match = YEAR_FIRST.exec(text);
  if (match) return calendarDate(Number(match[1]), Number(match[3]), Number(match[4]));
  match = COMPACT.exec(text);
  if (match) return calendarDate(Number(match[1]), Number(match[2]), Number(match[3]));
  match = YEAR_LAST.exec(text);
  if (match) {
    const first = Number(match[1]);
    const second = Number(match[3]);
    const dayFirst = match[2] === '.' || first > 12;
    return dayFirst
      ? calendarDate(Number(match[4]), second, first)
      : calendarDate(Number(match[4]), first, second);
  }
  return parseDateWithMonthName(text);
}

function parseDateWithMonthName(text: string): CalendarDate | undefined {
  const words = text.toLowerCase().split(WORD_SEPARATORS).filter((word) => word !== '');
  if (words.length !== 3) return undefined;
  const monthIndex = words.findIndex((word) => MONTH_BY_NAME.has(word));
  const yearIndex = words.findIndex((word) => FOUR_DIGITS.test(word));
  if (monthIndex === -1 || yearIndex === -1) return undefined;
  const dayWord = words[3 - monthIndex - yearIndex];
  const day = dayWord === undefined ? undefined : dayOrMonthNumber(dayWord);
  if (day === undefined) return undefined;
  return calendarDate(Number(words[yearIndex]), MONTH_BY_NAME.get(words[monthIndex]) as number, day);
}

function calendarDate(year: number, month: number, day: number): CalendarDate | undefined {
  if (month < 1 || month > 12 || day < 1 || day > daysInMonth(year, month)) return undefined;
  return { year, month, day };
}

const DAYS_IN_MONTH = [31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31];

function daysInMonth(year: number, month: number): number {
  const isLeapYear = year % 4 === 0 && (year % 100 !== 0 || year % 400 === 0);
  return month === 2 && isLeapYear ? 29 : DAYS_IN_MONTH[month - 1];
}

function twoDigits(value: number): string {
  return value < 10 ? `0${value}` : String(value);
}
