/**
 * The manifest writer's run over its topics (lib/manifest/manifest-job.ts, what
 * functions/manifest-writer calls): a topic whose run fails is logged and counted, and the
 * other topics still run.
 */
import { describe, expect, it } from 'vitest';
import type { ManifestStateStore } from '../../lib/core/ports.ts';
import { createLayout, DEFAULT_LAYOUT } from '../../lib/layout/layout.ts';
import { runManifestJob } from '../../lib/manifest/manifest-job.ts';
import { MemoryObjectStore } from '../../testkit/memory-ports.ts';

const layout = createLayout({
  ...DEFAULT_LAYOUT,
  partitioner: 'time',
  pathFormat: "'dt'=YYYY-MM-dd",
  partitionDurationMs: 86_400_000,
  timestampExtractor: 'Record',
});

describe('the manifest job', () => {
  it('logs a failing topic, counts it, and still runs the others', async () => {
    const logged: Array<[string, Record<string, unknown>]> = [];
    const log = (message: string, ...extra: Array<Record<string, unknown>>) => logged.push([message, Object.assign({}, ...extra)]);
    const result = await runManifestJob({
      inventory: {
        async *list() {},
        head: async () => undefined,
        read: async () => Buffer.alloc(0),
      },
      ledger: {
        list: async ({ topic }) => {
          if (topic === 'broken') throw new Error('ledger unreachable');
          return [];
        },
      },
      store: new MemoryObjectStore(),
      stateStore: { load: async () => undefined, save: async () => true } satisfies ManifestStateStore,
      prefix: 'topics/',
      layout,
      settings: { topics: ['broken', 'fine'], partitions: new Map(), graceMs: undefined, maxObjects: undefined },
      logger: { info: log, error: log },
    });
    expect(result).toMatchObject({ written: 0, examined: 0, backlog: 0, failed: ['broken'], stuck: [] });
    expect(logged.map(([message, fields]) => [message, fields.topic])).toEqual([
      ['Manifest run failed', 'broken'],
      ['Manifests written', 'fine'],
    ]);
    expect(String(logged[0]![1].error)).toBe('Error: ledger unreachable');
  });
});
