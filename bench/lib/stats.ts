/** Small statistics and timing helpers for the benchmark. */

/** The median (upper median for an even count). */
export function median(list: readonly number[]): number {
  if (list.length === 0) return Number.NaN;
  return [...list].sort((a, b) => a - b)[Math.floor(list.length / 2)]!;
}

/** The p-th percentile (0–100), nearest rank. */
export function percentile(list: readonly number[], p: number): number {
  if (list.length === 0) return Number.NaN;
  const sorted = [...list].sort((a, b) => a - b);
  const rank = Math.ceil((p / 100) * sorted.length);
  return sorted[Math.min(sorted.length - 1, Math.max(0, rank - 1))]!;
}

/** Wall time and CPU time (all threads of the process: GC helpers included) in ms. */
export interface Timing {
  readonly wall: number;
  readonly cpu: number;
}

export function startTimer(): () => Timing {
  const wall = performance.now();
  const cpu = process.cpuUsage();
  return () => {
    const used = process.cpuUsage(cpu);
    return { wall: performance.now() - wall, cpu: (used.user + used.system) / 1000 };
  };
}

export const round = (value: number, digits = 1): number => Number(value.toFixed(digits));
