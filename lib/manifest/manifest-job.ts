/**
 * One run of the scheduled manifest writer (functions/manifest-writer): `advanceManifests` for
 * each topic in turn, a failing topic logged and the others still run, and the totals the
 * handler turns into metrics. Structured fields only: object keys and counts, never record values.
 */
import type { Layout } from '../layout/layout.ts';
import { advanceManifests } from './incremental.ts';
import type { ManifestJobSettings } from './job-settings.ts';

/** What one run did, over every topic. */
export interface ManifestJobResult {
  readonly written: number;
  readonly existing: number;
  readonly pending: number;
  readonly examined: number;
  readonly backlog: number;
  /** Topics whose run failed (logged); the invocation then fails after the other topics ran. */
  readonly failed: readonly string[];
  /** Topics stuck on an object whose metadata cannot be read (logged; the invocation succeeds). */
  readonly stuck: readonly string[];
}

/** The subset of Powertools' Logger the job uses. */
export interface ManifestJobLogger {
  info(message: string, ...extra: Array<Record<string, unknown>>): void;
  error(message: string, ...extra: Array<Record<string, unknown>>): void;
}

type AdvanceInput = Parameters<typeof advanceManifests>[0];

/** Advances the manifests of every topic of `settings`; never throws for one topic's failure (see `failed`). */
export async function runManifestJob(input: {
  readonly inventory: AdvanceInput['inventory'];
  readonly ledger: AdvanceInput['ledger'];
  readonly store: AdvanceInput['store'];
  readonly stateStore: AdvanceInput['stateStore'];
  readonly prefix: string;
  readonly layout: Layout;
  readonly settings: ManifestJobSettings;
  readonly logger: ManifestJobLogger;
}): Promise<ManifestJobResult> {
  const { inventory, ledger, store, stateStore, prefix, layout, settings, logger } = input;
  let written = 0;
  let existing = 0;
  let pending = 0;
  let examined = 0;
  let backlog = 0;
  const failed: string[] = [];
  const stuck: string[] = [];
  for (const topic of settings.topics) {
    try {
      const result = await advanceManifests({
        inventory,
        ledger,
        store,
        stateStore,
        prefix,
        topic,
        layout,
        partitions: settings.partitions.get(topic),
        graceMs: settings.graceMs,
        maxObjects: settings.maxObjects,
      });
      written += result.written.length;
      existing += result.existing.length;
      pending += result.pending.length;
      examined += result.examined;
      backlog += result.backlog;
      logger.info('Manifests written', {
        topic,
        written: result.written.length,
        existing: result.existing.length,
        pending: result.pending.length,
        examined: result.examined,
        backlog: result.backlog,
        stateSaved: result.stateSaved,
        ...(result.restarted ? { restarted: result.restarted } : {}),
        writtenKeys: result.written,
        waiting: result.pending.slice(0, 10),
        ...(result.skipped.length > 0 ? { skipped: result.skipped.slice(0, 10) } : {}),
      });
      if (result.problems.length > 0) {
        stuck.push(topic);
        logger.error('Manifest writer stuck on unreadable objects', { topic, problems: result.problems.slice(0, 10) });
      }
    } catch (error) {
      failed.push(topic);
      logger.error('Manifest run failed', { topic, error: error as Error });
    }
  }
  return { written, existing, pending, examined, backlog, failed, stuck };
}
