/**
 * The object store contract (test/support/object-store-contract.ts) run against every
 * implementation: in memory (what the unit tests use), the S3 adapter on the project's S3 emulator
 * (what the whole suite trusts), and the S3 adapter on moto's server (`moto[server]` from PyPI: an
 * S3 written by others, see testkit/emulators/moto-server.ts), which checks the emulator against
 * code nobody here wrote. Each declares where it departs from S3's documented behaviour.
 */
import { CreateBucketCommand, GetObjectCommand, NoSuchKey, type S3Client } from '@aws-sdk/client-s3';
import { S3ObjectStore } from '../../lib/aws/s3-object-store.ts';
import { localS3Client } from '../../testkit/emulators/clients.ts';
import { startMotoServer } from '../../testkit/emulators/moto-server.ts';
import { startS3ForTest, uniqueName } from '../support/emulators.ts';
import { MemoryObjectStore } from '../../testkit/memory-ports.ts';
import { type ObjectStoreImplementation, objectStoreContract, StoreCapability, StoreDeviation } from '../support/object-store-contract.ts';

/** The object's body as text, or undefined when S3 has no object under the key. */
async function s3BodyOf(client: S3Client, bucket: string, key: string): Promise<string | undefined> {
  try {
    const out = await client.send(new GetObjectCommand({ Bucket: bucket, Key: key }));
    return await out.Body!.transformToString();
  } catch (error) {
    if (error instanceof NoSuchKey) return undefined;
    throw error;
  }
}

const implementations: readonly ObjectStoreImplementation[] = [
  {
    name: 'memory',
    capabilities: [],
    // MemoryObjectStore keeps the metadata it was given as it was given.
    deviations: [],
    async start() {
      const store = new MemoryObjectStore();
      return {
        store,
        bodyOf: async (key) => {
          const object = store.objects.get(key);
          return object === undefined ? undefined : new TextDecoder().decode(object.body);
        },
        stop: async () => undefined,
      };
    },
  },
  {
    name: 'S3 adapter on the S3 emulator',
    capabilities: [StoreCapability.s3Api],
    deviations: [],
    async start() {
      const s3 = await startS3ForTest();
      return {
        store: new S3ObjectStore({ client: s3.client, bucket: s3.bucket }),
        bodyOf: (key) => s3BodyOf(s3.client, s3.bucket, key),
        s3: { client: s3.client, endpoint: s3.endpoint, bucket: s3.bucket },
        stop: () => s3.stop(),
      };
    },
  },
  {
    name: 'S3 adapter on moto',
    capabilities: [StoreCapability.s3Api],
    // moto 5.2.5 (MOTO_VERSION).
    deviations: [
      StoreDeviation.contentMd5Unchecked,
      StoreDeviation.checksumUnchecked,
      StoreDeviation.quietDeleteListsDeleted,
      StoreDeviation.noConflictInFlight,
    ],
    async start() {
      const moto = await startMotoServer();
      const client = localS3Client(moto.endpoint);
      const bucket = uniqueName('bucket');
      await client.send(new CreateBucketCommand({ Bucket: bucket }));
      return {
        store: new S3ObjectStore({ client, bucket }),
        bodyOf: (key) => s3BodyOf(client, bucket, key),
        s3: { client, endpoint: moto.endpoint, bucket },
        async stop() {
          client.destroy();
          await moto.stop();
        },
      };
    },
  },
];

for (const implementation of implementations) objectStoreContract(implementation);
