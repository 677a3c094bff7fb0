/**
 * A real Apache Kafka broker for a test file (`startKafkaBroker`, KRaft, one JVM), with the
 * helpers the tests share: topics created with a given partition count (the producer never
 * auto-creates one, so a typo fails instead of making a 1-partition topic), and producing to one
 * partition with keys, values, headers and CreateTime timestamps of the test's choosing.
 *
 * The broker's `group.min.session.timeout.ms` is lowered from Kafka's 6 s to 1 s so that the
 * workers' 3 s test sessions are accepted: a SIGKILLed member then leaves the group in 3 s, not 45.
 */
import { Admin, Producer, stringSerializers } from '@platformatic/kafka';
import { startKafkaBroker, type KafkaBroker } from '../../testkit/emulators/kafka-broker.ts';

export interface TestTopic {
  readonly name: string;
  readonly partitions: number;
}

export interface TestMessage {
  readonly key?: string;
  readonly value: string;
  /** Epoch ms (CreateTime); the current time when absent. */
  readonly timestamp?: number;
  readonly headers?: Readonly<Record<string, string>>;
}

export interface TestKafka {
  /** `127.0.0.1:PORT` of the broker's PLAINTEXT listener. */
  readonly bootstrapServers: string;
  readonly broker: KafkaBroker;
  /** An admin client on the broker, for what a test does beyond the helpers (delete topics or records, topic configs). */
  readonly admin: Admin;
  /** Creates topics (CreateTopics) and waits until their metadata shows every partition. */
  createTopics(topics: readonly TestTopic[]): Promise<void>;
  /** Adds partitions to a topic (CreatePartitions): `count` is the new total. */
  createPartitions(topic: string, count: number): Promise<void>;
  /** Produces to one partition, in order, acknowledged by the broker. */
  produce(topic: string, partition: number, messages: readonly TestMessage[]): Promise<void>;
  /** Stops the producer and the broker (removing its files); idempotent. */
  stop(): Promise<void>;
}

/** Starts a broker (see the module comment; `brokerProperties` override its settings) and creates `topics` on it. */
export async function startTestKafka(
  options: { readonly topics?: readonly TestTopic[]; readonly brokerProperties?: Readonly<Record<string, string>> } = {},
): Promise<TestKafka> {
  const broker = await startKafkaBroker({ properties: { 'group.min.session.timeout.ms': '1000', ...options.brokerProperties } });
  const bootstrapServers = broker.bootstrap;
  const client = { clientId: 'test-kafka', bootstrapBrokers: [bootstrapServers], retries: 5, retryDelay: 200 };
  const admin = new Admin(client);
  const producer = new Producer({ ...client, serializers: stringSerializers, autocreateTopics: false });
  let stopped: Promise<void> | undefined;
  const stop = (): Promise<void> =>
    (stopped ??= (async () => {
      await Promise.all([producer.close().catch(() => undefined), admin.close().catch(() => undefined)]);
      await broker.stop();
    })());

  /** CreateTopics and CreatePartitions return before the broker leads the new partitions: a producer asking then gets LEADER_NOT_AVAILABLE. */
  const waitForLeaders = async (topics: readonly TestTopic[]): Promise<void> => {
    for (let attempt = 0; ; attempt++) {
      const metadata = await admin.metadata({ topics: topics.map((t) => t.name), forceUpdate: true });
      const ready = topics.every((t) => {
        const found = metadata.topics.get(t.name);
        return found?.partitionsCount === t.partitions && found.partitions.every((p) => p.leader >= 0);
      });
      if (ready) return;
      if (attempt >= 100) throw new Error(`Topics ${topics.map((t) => t.name).join(', ')} have no leader after 100 metadata requests`);
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
  };

  const kafka: TestKafka = {
    bootstrapServers,
    broker,
    admin,
    async createTopics(topics) {
      if (topics.length === 0) return;
      for (const topic of topics) await admin.createTopics({ topics: [topic.name], partitions: topic.partitions, replicas: 1 });
      await waitForLeaders(topics);
    },
    async createPartitions(topic, count) {
      await admin.createPartitions({ topics: [{ name: topic, count }] });
      await waitForLeaders([{ name: topic, partitions: count }]);
      // The producer keeps metadata for 5 s: it would not know the new partitions yet.
      producer.clearMetadata();
    },
    async produce(topic, partition, messages) {
      if (messages.length === 0) return;
      for (let i = 0; i < messages.length; i += 500) {
        await producer.send({
          messages: messages.slice(i, i + 500).map((m) => ({
            topic,
            partition,
            ...(m.key === undefined ? {} : { key: m.key }),
            value: m.value,
            ...(m.headers === undefined ? {} : { headers: { ...m.headers } }),
            timestamp: BigInt(m.timestamp ?? Date.now()),
          })),
        });
      }
    },
    stop,
  };
  try {
    await kafka.createTopics(options.topics ?? []);
  } catch (error) {
    await stop();
    throw error;
  }
  return kafka;
}
