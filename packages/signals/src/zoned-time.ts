// Wall-clock times in a market's time zone (ERCOT publishes in Central Prevailing Time) to
// instants, with the daylight-saving fold resolved explicitly rather than by luck.

const formatters = new Map<string, Intl.DateTimeFormat>();

function formatter(timeZone: string): Intl.DateTimeFormat {
  let f = formatters.get(timeZone);
  if (!f) {
    f = new Intl.DateTimeFormat('en-US', {
      timeZone,
      hourCycle: 'h23',
      year: 'numeric',
      month: '2-digit',
      day: '2-digit',
      hour: '2-digit',
      minute: '2-digit',
      second: '2-digit',
    });
    formatters.set(timeZone, f);
  }
  return f;
}

/** The wall-clock fields of an instant in a zone. */
export function zonedParts(
  instant: Date,
  timeZone: string,
): { year: number; month: number; day: number; hour: number; minute: number; second: number } {
  const parts: Record<string, number> = {};
  for (const p of formatter(timeZone).formatToParts(instant)) {
    if (p.type !== 'literal') parts[p.type] = Number(p.value);
  }
  return {
    year: parts.year!,
    month: parts.month!,
    day: parts.day!,
    hour: parts.hour!,
    minute: parts.minute!,
    second: parts.second!,
  };
}

/** UTC offset of a zone at an instant, in minutes (Central Daylight Time: -300). */
export function zoneOffsetMinutes(instantMs: number, timeZone: string): number {
  const whole = Math.floor(instantMs / 1000) * 1000;
  const p = zonedParts(new Date(whole), timeZone);
  return (Date.UTC(p.year, p.month - 1, p.day, p.hour, p.minute, p.second) - whole) / 60_000;
}

/** `YYYY-MM-DD` of an instant in a zone. */
export function zonedDate(instant: Date, timeZone: string): string {
  const p = zonedParts(instant, timeZone);
  return `${String(p.year).padStart(4, '0')}-${String(p.month).padStart(2, '0')}-${String(p.day).padStart(2, '0')}`;
}

/** Adds whole days to a `YYYY-MM-DD` date. */
export function addDays(date: string, days: number): string {
  const d = new Date(`${date}T00:00:00Z`);
  d.setUTCDate(d.getUTCDate() + days);
  return d.toISOString().slice(0, 10);
}

/**
 * The instant at which a zone's wall clock shows `minutes` after midnight of `date`.
 * In the autumn fold (a wall time that happens twice) `later` picks the second occurrence;
 * a wall time in the spring gap (never shown) is read with the offset in force before the gap.
 */
export function zonedWallTimeToInstant(date: string, minutes: number, timeZone: string, later = false): Date {
  if (!/^\d{4}-\d{2}-\d{2}$/.test(date)) throw new Error(`bad date ${JSON.stringify(date)}`);
  const wallMs = Date.parse(`${date}T00:00:00Z`) + minutes * 60_000;
  if (Number.isNaN(wallMs)) throw new Error(`bad date ${JSON.stringify(date)}`);
  const offsets = new Set([-36, 0, 36].map((h) => zoneOffsetMinutes(wallMs + h * 3_600_000, timeZone)));
  const matches = [...offsets]
    .map((o) => wallMs - o * 60_000)
    .filter((u) => zoneOffsetMinutes(u, timeZone) * 60_000 === wallMs - u)
    .sort((a, b) => a - b);
  if (matches.length > 0) return new Date(later ? matches[matches.length - 1]! : matches[0]!);
  return new Date(wallMs - zoneOffsetMinutes(wallMs - 36 * 3_600_000, timeZone) * 60_000);
}
