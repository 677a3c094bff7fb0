/**
 * Time zones for the time partitioner (lib/layout/layout.ts): a zone's offset from UTC, and time
 * partitions floored in its local time. Never the wall clock: only the times given.
 */
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

/** Time partitions of `duration` ms floored in a zone's local time. */
export interface TimePartitions {
  /**
   * The start of the record time's partition: the time floored to partition.duration.ms in the
   * zone's local time, as a UTC date whose fields are the local ones; undefined outside the years
   * 0000-9999, which a four-digit year cannot write (past JavaScript's Date range Intl throws, and
   * an invalid Date would write `year=0NaN`).
   */
  localStart(time: number): Date | undefined;
  /** The partition (UTC ms, end exclusive) a time falls in. */
  window(time: number): { readonly start: number; readonly end: number };
}

/** The time partitions of `duration` ms in `timezone` (an IANA zone, already validated). */
export function timePartitions(timezone: string, duration: number): TimePartitions {
  const offsetAt = zoneOffsets(timezone);
  return {
    localStart(time) {
      if (!(time >= FIRST_TIME - DAY_MS && time <= LAST_TIME + DAY_MS)) return undefined; // also NaN
      const start = Math.floor((time + offsetAt(time)) / duration) * duration;
      return start >= FIRST_TIME && start <= LAST_TIME ? new Date(start) : undefined;
    },
    window(time) {
      const offset = offsetAt(time);
      const start = Math.floor((time + offset) / duration) * duration - offset;
      return { start, end: start + duration };
    },
  };
}
