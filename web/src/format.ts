/**
 * Numbers and times for people. Pure functions (no DOM), unit-tested in
 * test/unit/web. `locale` defaults to the browser's.
 */

const BYTE_UNITS = ['B', 'KiB', 'MiB', 'GiB', 'TiB', 'PiB'];

function number(value: number, digits: number, locale?: string): string {
  return new Intl.NumberFormat(locale, { maximumFractionDigits: digits }).format(value);
}

/** 1536 → "1.5 KiB"; below 1 KiB the exact count of bytes ("329 B"). */
export function formatBytes(bytes: number, locale?: string): string {
  if (!Number.isFinite(bytes)) return '–';
  const sign = bytes < 0 ? '-' : '';
  let value = Math.abs(bytes);
  let unit = 0;
  while (value >= 1024 && unit < BYTE_UNITS.length - 1) {
    value /= 1024;
    unit++;
  }
  if (unit === 0) return `${sign}${number(value, 0, locale)} B`;
  const digits = value < 10 ? 2 : value < 100 ? 1 : 0;
  return `${sign}${number(value, digits, locale)} ${BYTE_UNITS[unit]}`;
}

/** 12345 → "12,345". */
export function formatCount(value: number, locale?: string): string {
  if (!Number.isFinite(value)) return '–';
  return number(value, Number.isInteger(value) ? 0 : 2, locale);
}

const SI = [
  { factor: 1e12, prefix: 'T' },
  { factor: 1e9, prefix: 'G' },
  { factor: 1e6, prefix: 'M' },
  { factor: 1e3, prefix: 'k' },
];

/** A per-second rate with an SI prefix: (1234.5, 'pkt') → "1.23 kpkt/s", (9.5e6, 'bit') → "9.5 Mbit/s". */
export function formatRate(perSecond: number, unit = '', locale?: string): string {
  if (!Number.isFinite(perSecond)) return '–';
  const magnitude = Math.abs(perSecond);
  for (const { factor, prefix } of SI) {
    if (magnitude >= factor) {
      const scaled = perSecond / factor;
      const digits = Math.abs(scaled) < 10 ? 2 : Math.abs(scaled) < 100 ? 1 : 0;
      return `${number(scaled, digits, locale)} ${prefix}${unit}/s`;
    }
  }
  const digits = magnitude < 10 ? 2 : magnitude < 100 ? 1 : 0;
  return `${number(perSecond, digits, locale)} ${unit}/s`.replace(' /s', '/s');
}

/** Seconds to "350 ms", "12.3 s", "4 m 05 s", "2 h 03 m", "3 d 04 h". */
export function formatDuration(seconds: number, locale?: string): string {
  if (!Number.isFinite(seconds) || seconds < 0) return '–';
  if (seconds < 1) return `${number(seconds * 1000, seconds < 0.01 ? 2 : 0, locale)} ms`;
  if (seconds < 60) return `${number(seconds, seconds < 10 ? 2 : 1, locale)} s`;
  const pad = (n: number) => String(n).padStart(2, '0');
  const whole = Math.floor(seconds);
  if (whole < 3600) return `${Math.floor(whole / 60)} m ${pad(whole % 60)} s`;
  if (whole < 86_400)
    return `${Math.floor(whole / 3600)} h ${pad(Math.floor((whole % 3600) / 60))} m`;
  return `${Math.floor(whole / 86_400)} d ${pad(Math.floor((whole % 86_400) / 3600))} h`;
}

export interface FormattedTime {
  /** Local time, "2026-11-22 14:03:05" (with ".123" when asked for milliseconds). */
  text: string;
  /** The same instant in UTC with its offset named, for a `title`: "2026-11-22 13:03:05.123 UTC (local UTC+01:00)". */
  title: string;
  /** For `<time dateTime>`. */
  iso: string;
}

const pad2 = (n: number) => String(n).padStart(2, '0');
const pad3 = (n: number) => String(n).padStart(3, '0');

function offsetName(minutesEast: number): string {
  const sign = minutesEast >= 0 ? '+' : '-';
  const m = Math.abs(minutesEast);
  return `UTC${sign}${pad2(Math.floor(m / 60))}:${pad2(m % 60)}`;
}

/**
 * Epoch milliseconds (or a Date) as local time, with UTC in the title. ISO-like
 * and 24-hour, so columns of times line up and sort as text.
 */
export function formatTime(value: number | Date, options: { ms?: boolean } = {}): FormattedTime {
  const date = value instanceof Date ? value : new Date(value);
  if (Number.isNaN(date.getTime())) return { text: '–', title: 'no time', iso: '' };
  const local = `${date.getFullYear()}-${pad2(date.getMonth() + 1)}-${pad2(date.getDate())} ${pad2(date.getHours())}:${pad2(date.getMinutes())}:${pad2(date.getSeconds())}`;
  const utc = date.toISOString().replace('T', ' ').replace('Z', '');
  return {
    text: options.ms ? `${local}.${pad3(date.getMilliseconds())}` : local,
    title: `${utc} UTC (local ${offsetName(-date.getTimezoneOffset())})`,
    iso: date.toISOString(),
  };
}

/** "just now", "42 s ago", "5 min ago", "3 h ago", "2 d ago"; the future reads "in 5 min". */
export function formatRelative(value: number | Date, now: number | Date = Date.now()): string {
  const at = value instanceof Date ? value.getTime() : value;
  const ref = now instanceof Date ? now.getTime() : now;
  if (!Number.isFinite(at)) return 'never';
  const delta = Math.round((ref - at) / 1000);
  const abs = Math.abs(delta);
  if (abs < 5) return 'just now';
  const amount =
    abs < 60
      ? `${abs} s`
      : abs < 3600
        ? `${Math.floor(abs / 60)} min`
        : abs < 86_400
          ? `${Math.floor(abs / 3600)} h`
          : `${Math.floor(abs / 86_400)} d`;
  return delta >= 0 ? `${amount} ago` : `in ${amount}`;
}
