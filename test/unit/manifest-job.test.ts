import { describe, expect, it } from 'vitest';
import { createLayout, DEFAULT_LAYOUT } from '../../lib/layout/layout.ts';
import { loadManifestJobSettings } from '../../lib/manifest/job-settings.ts';
import { writeDueManifests } from '../../lib/manifest/manifest.ts';

describe('loadManifestJobSettings (the scheduled manifest writer)', () => {
  it('reads the topics, partition counts and grace', () => {
    expect(
      loadManifestJobSettings({ MANIFEST_TOPICS: 'orders, clicks', MANIFEST_TOPIC_PARTITIONS: 'orders:6', MANIFEST_GRACE_MS: '60000' }),
    ).toEqual({
      topics: ['orders', 'clicks'],
      partitions: new Map([['orders', 6]]),
      graceMs: 60_000,
    });
    expect(loadManifestJobSettings({ MANIFEST_TOPICS: 'a.b:c' })).toEqual({ topics: ['a.b:c'], partitions: new Map(), graceMs: undefined });
    expect(loadManifestJobSettings({ MANIFEST_TOPICS: 'a', MANIFEST_MAX_OBJECTS_PER_RUN: '500' }).maxObjects).toBe(500);
  });

  it('reports every problem at once', () => {
    expect(() => loadManifestJobSettings({})).toThrow('MANIFEST_TOPICS is required');
    expect(() =>
      loadManifestJobSettings({
        MANIFEST_TOPICS: 'orders',
        MANIFEST_TOPIC_PARTITIONS: 'orders:0,nope:3,bad',
        MANIFEST_GRACE_MS: '-5',
        MANIFEST_MAX_OBJECTS_PER_RUN: '0',
      }),
    ).toThrow(
      /"orders:0" is not topic:count.*"nope" is not one of MANIFEST_TOPICS.*"bad" is not topic:count.*MANIFEST_GRACE_MS.*MANIFEST_MAX_OBJECTS_PER_RUN/,
    );
  });
});

describe('writeDueManifests', () => {
  it('refuses a layout without time partitions before reading anything', async () => {
    const fail = () => {
      throw new Error('must not be called');
    };
    await expect(
      writeDueManifests({
        inventory: { list: fail, head: fail, read: fail },
        ledger: { list: fail },
        store: { putIfAbsent: fail } as never,
        prefix: 'topics/',
        topic: 'orders',
        layout: createLayout(DEFAULT_LAYOUT),
      }),
    ).rejects.toThrow('completeness markers need the time partitioner');
  });
});
