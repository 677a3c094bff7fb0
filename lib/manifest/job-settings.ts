/** The scheduled manifest writer's settings, read from its function's environment. */
import { ConfigurationError } from '../core/errors.ts';

/** The scheduled manifest writer's own settings (the layout comes from the `SINK_*` settings). */
export interface ManifestJobSettings {
  readonly topics: readonly string[];
  /** Partition counts by topic, where known. */
  readonly partitions: ReadonlyMap<string, number>;
  readonly graceMs: number | undefined;
  /** Objects examined per topic and run at most (`advanceManifests`' `maxObjects`). */
  readonly maxObjects: number | undefined;
}

/**
 * Reads `MANIFEST_TOPICS` (comma-separated), `MANIFEST_TOPIC_PARTITIONS` (`topic:count,...`),
 * `MANIFEST_GRACE_MS` and `MANIFEST_MAX_OBJECTS_PER_RUN` from an environment; every problem in
 * one `ConfigurationError`.
 */
export function loadManifestJobSettings(env: Readonly<Record<string, string | undefined>>): ManifestJobSettings {
  const problems: string[] = [];
  const list = (value: string | undefined) =>
    (value ?? '')
      .split(',')
      .map((item) => item.trim())
      .filter(Boolean);
  const topics = list(env['MANIFEST_TOPICS']);
  if (topics.length === 0) problems.push('MANIFEST_TOPICS is required: the topics to write manifests for, comma-separated');
  const partitions = new Map<string, number>();
  for (const item of list(env['MANIFEST_TOPIC_PARTITIONS'])) {
    const colon = item.lastIndexOf(':');
    const topic = item.slice(0, colon).trim();
    const count = Number(item.slice(colon + 1).trim());
    if (colon <= 0 || !/^\d+$/.test(item.slice(colon + 1).trim()) || !Number.isSafeInteger(count) || count < 1) {
      problems.push(`MANIFEST_TOPIC_PARTITIONS: "${item}" is not topic:count (a positive partition count)`);
    } else if (!topics.includes(topic)) {
      problems.push(`MANIFEST_TOPIC_PARTITIONS: "${topic}" is not one of MANIFEST_TOPICS`);
    } else {
      partitions.set(topic, count);
    }
  }
  let graceMs: number | undefined;
  const grace = env['MANIFEST_GRACE_MS'];
  if (grace !== undefined && grace !== '') {
    graceMs = Number(grace);
    if (!/^\d+$/.test(grace.trim()) || !Number.isSafeInteger(graceMs))
      problems.push(`MANIFEST_GRACE_MS: must be a non-negative whole number of milliseconds, got "${grace}"`);
  }
  let maxObjects: number | undefined;
  const max = env['MANIFEST_MAX_OBJECTS_PER_RUN'];
  if (max !== undefined && max !== '') {
    maxObjects = Number(max);
    if (!/^\d+$/.test(max.trim()) || !Number.isSafeInteger(maxObjects) || maxObjects < 1) {
      problems.push(`MANIFEST_MAX_OBJECTS_PER_RUN: must be a positive whole number of objects, got "${max}"`);
    }
  }
  if (problems.length > 0) throw new ConfigurationError(`Invalid manifest writer configuration: ${problems.join('; ')}`);
  return { topics, partitions, graceMs, maxObjects };
}
