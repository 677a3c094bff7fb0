/** The first and last instants of the years 0000-9999 (a time path has four-digit years). */
export const FIRST_TIME = -62_167_219_200_000; // 0000-01-01T00:00:00.000Z
export const LAST_TIME = 253_402_300_799_999; // 9999-12-31T23:59:59.999Z
/** A day, the margin beyond those years within which a zone's offset is looked up at all. */
export const DAY_MS = 86_400_000;

/** The names of UTC that need no Intl (its offset is always 0). */
export function isUtc(timezone: string): boolean {
  return timezone === 'UTC' || timezone === 'Etc/UTC';
}

/** The time zone's offset from UTC (ms) at an instant; cached per UTC minute (zones shift on whole minutes). */
export function zoneOffsets(timezone: string): (ms: number) => number {
  if (isUtc(timezone)) return () => 0;
  const format = new Intl.DateTimeFormat('en-US', {
    timeZone: timezone,
    hourCycle: 'h23',
    era: 'short',
    year: 'numeric',
    month: 'numeric',
    day: 'numeric',
    hour: 'numeric',
    minute: 'numeric',
  });
  const cache = new Map<number, number>();
  return (ms) => {
    const minute = Math.floor(ms / 60_000);
    let offset = cache.get(minute);
    if (offset === undefined) {
      const parts: Record<string, number> = {};
      let bc = false;
      for (const part of format.formatToParts(minute * 60_000)) {
        if (part.type === 'era') bc = part.value === 'BC';
        else if (part.type !== 'literal') parts[part.type] = Number(part.value);
      }
      // setUTCFullYear, not Date.UTC, which reads years 0-99 as 1900-1999; 1 BC is year 0.
      const local = new Date(0);
      local.setUTCFullYear(bc ? 1 - parts['year']! : parts['year']!, parts['month']! - 1, parts['day']);
      local.setUTCHours(parts['hour']!, parts['minute']);
      offset = local.getTime() - minute * 60_000;
      if (cache.size > 100_000) cache.clear();
      cache.set(minute, offset);
    }
    return offset;
  };
}
