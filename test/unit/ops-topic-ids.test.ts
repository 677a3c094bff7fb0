/**
 * A re-created topic in the operations commands' pure parts: which partitions `verify` reports
 * (`reconcile` with the cluster's topic ids) and which topics are looked up on the cluster. The
 * same on a real broker, through the CLI: test/integration/ops-topic-recreated.test.ts.
 */
import { describe, expect, it } from 'vitest';
import { KafkaAdminError, type KafkaAdmin, KafkaUnknownTopicError } from '../../lib/kafka/kafka-admin.ts';
import type { AuditedLedgerEntry } from '../../lib/ledger/admin.ts';
import { recreatedTopicId } from '../../lib/ledger/topic-id.ts';
import { clusterTopicIds } from '../../lib/ops/topic-ids.ts';
import { reconcile } from '../../lib/ops/verify.ts';

const OLD = '0c83f713-2992-4fb3-b287-1e60515a558d';
const NEW = 'fda8d094-93ad-44a1-bae6-e108165b3e1b';

/** A ledger entry that committed nothing yet (so that `reconcile` expects no object). */
function entry(topic: string, partition: number, topicId?: string): AuditedLedgerEntry {
  return {
    topic,
    partition,
    generation: 2,
    committedOffset: -1,
    lastObjectKey: null,
    lastRecordCount: 0,
    updatedAt: '2026-12-01T00:00:00.000Z',
    resets: [],
    ...(topicId === undefined ? {} : { topicId }),
  };
}

describe('reconcile with the cluster topic ids', () => {
  const entries = [entry('a', 0, OLD), entry('a', 1, NEW), entry('b', 0), entry('c', 0, OLD)];

  it('reports an error for each partition whose ledger topic id is not the cluster one', () => {
    const report = reconcile({
      entries,
      objects: [],
      clusterTopicIds: new Map([
        ['a', NEW],
        ['b', NEW],
      ]),
    });
    expect(report.errors).toBe(1);
    expect(report.findings).toEqual([
      {
        severity: 'error',
        kind: 'topic-recreated',
        topic: 'a',
        partition: 0,
        generation: 2,
        message: expect.stringContaining(`topic a was deleted and created again (the ledger's topic id ${OLD}, the cluster's ${NEW})`),
      },
    ]);
    expect(report.findings[0]!.message).toContain('`msk-s3-sink reset --topic a --partition 0 --to-offset 0 --reason "topic re-created"`');
  });

  it('finds nothing where an id is missing or matches: the entry has none, the cluster does not have the topic, or no cluster was given', () => {
    expect(reconcile({ entries, objects: [], clusterTopicIds: new Map([['a', OLD]]) }).findings).toEqual([
      expect.objectContaining({ kind: 'topic-recreated', topic: 'a', partition: 1 }),
    ]);
    expect(reconcile({ entries: [entries[2]!, entries[3]!], objects: [], clusterTopicIds: new Map([['b', NEW]]) }).findings).toEqual([]);
    expect(reconcile({ entries, objects: [] }).findings).toEqual([]);
    expect(recreatedTopicId(entry('b', 0), new Map([['b', NEW]]))).toBeUndefined();
    expect(recreatedTopicId(entry('a', 0, OLD), undefined)).toBeUndefined();
  });
});

describe('clusterTopicIds', () => {
  /** An admin that knows the ids of `known` topics, records what it was asked, and fails for `broken`. */
  function admin(known: Record<string, string>, broken?: string): KafkaAdmin & { asked: string[] } {
    const asked: string[] = [];
    const unused = () => Promise.reject(new Error('not used here'));
    return {
      asked,
      topicId: async (topic: string) => {
        asked.push(topic);
        if (topic === broken) throw new KafkaAdminError(`The broker failed for ${topic}`);
        const id = known[topic];
        if (id === undefined) throw new KafkaUnknownTopicError(topic);
        return id;
      },
      listOffsets: unused,
      offsetsForTimestamp: unused,
      fetchGroupOffsets: unused,
      setGroupOffsets: unused,
      close: async () => undefined,
    };
  }

  it('looks up each topic whose entries record an id, once, and leaves out topics the cluster no longer has', async () => {
    const kafka = admin({ a: NEW });
    const ids = await clusterTopicIds(kafka, [entry('a', 0, OLD), entry('a', 1, OLD), entry('b', 0), entry('gone', 0, OLD)]);
    expect([...ids]).toEqual([['a', NEW]]);
    expect(kafka.asked).toEqual(['a', 'gone']);
  });

  it('fails with the cluster error when the cluster cannot answer', async () => {
    await expect(clusterTopicIds(admin({ a: NEW }, 'a'), [entry('a', 0, OLD)])).rejects.toThrow('The broker failed for a');
  });
});
