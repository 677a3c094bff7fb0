/**
 * Compaction settings, named in Kafka Connect style as the connector file and the standalone
 * worker's file will spell them (docs/compaction.md, "Settings").
 */
import { CompactionSettingsError } from './errors.ts';

/** `compaction.target.bytes` when unset: 128 MiB, Firehose's largest buffer. */
export const DEFAULT_TARGET_BYTES = 128 * 1024 * 1024;
/** `compaction.max.delay.ms` when unset: 15 minutes. */
export const DEFAULT_MAX_DELAY_MS = 15 * 60 * 1000;
/** S3 takes at most 10,000 parts of at most 5 GiB: objects past 5 TiB cannot be written. */
const MAX_TARGET_BYTES = 5 * 1024 ** 4;

/** What the compactor needs to know of the deployment. */
export interface CompactionSettings {
  /** Where the handler writes (its `SINK_PREFIX` with compaction on), e.g. `staging/`. */
  readonly stagingPrefix: string;
  /** Where compacted objects go, e.g. `topics/`; neither prefix lies inside the other. */
  readonly sinkPrefix: string;
  /** A run is full once adding the next staged object would pass this many stored bytes. */
  readonly targetBytes: number;
  /** A run that is not full is compacted anyway once its oldest staged object is this old. */
  readonly maxDelayMs: number;
}

/** The property names. */
export const CompactionProperty = {
  targetBytes: 'compaction.target.bytes',
  maxDelayMs: 'compaction.max.delay.ms',
} as const;

/**
 * Reads the two settings from properties (unset: the defaults). Throws `CompactionSettingsError`
 * naming every property that is wrong and why.
 */
export function compactionSettingsFrom(
  properties: Readonly<Record<string, string | undefined>>,
  prefixes: { readonly stagingPrefix: string; readonly sinkPrefix: string },
): CompactionSettings {
  const problems: string[] = [];
  const integer = (name: string, fallback: number, min: number, max: number): number => {
    const raw = properties[name]?.trim();
    if (raw === undefined || raw === '') return fallback;
    const value = Number(raw);
    if (!/^\d+$/.test(raw) || !Number.isSafeInteger(value) || value < min || value > max) {
      problems.push(`${name}: expected a whole number from ${min} to ${max}, got ${JSON.stringify(raw)}`);
      return fallback;
    }
    return value;
  };
  const targetBytes = integer(CompactionProperty.targetBytes, DEFAULT_TARGET_BYTES, 1, MAX_TARGET_BYTES);
  const maxDelayMs = integer(CompactionProperty.maxDelayMs, DEFAULT_MAX_DELAY_MS, 0, 7 * 24 * 3_600_000);
  const { stagingPrefix, sinkPrefix } = prefixes;
  if (stagingPrefix.startsWith(sinkPrefix) || sinkPrefix.startsWith(stagingPrefix)) {
    problems.push(
      `staging prefix "${stagingPrefix}" and sink prefix "${sinkPrefix}" overlap: a query engine over the sink prefix would read staged objects too`,
    );
  }
  if (problems.length > 0) throw new CompactionSettingsError(`Compaction settings: ${problems.join('; ')}`);
  return { stagingPrefix, sinkPrefix, targetBytes, maxDelayMs };
}
