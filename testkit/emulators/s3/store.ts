/** The S3 emulator's store: buckets and objects in memory, optionally mirrored on disk and reloaded on start. */
import { createHash, randomBytes } from 'node:crypto';
import { mkdir, readdir, readFile, rename, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { Bucket, StoredObject } from './model.ts';
import { S3Error } from './replies.ts';

/** Buckets and objects in memory, optionally mirrored on disk (`dataDir`) and reloaded on start. */
export class Store {
  readonly buckets = new Map<string, Bucket>();
  /** Disk writes per bucket/key, chained so that they land in commit order. */
  private readonly writes = new Map<string, Promise<void>>();

  constructor(private readonly dataDir: string | undefined) {}

  bucket(name: string): Bucket {
    const bucket = this.buckets.get(name);
    if (bucket === undefined) throw new S3Error(404, 'NoSuchBucket', 'The specified bucket does not exist', { BucketName: name });
    return bucket;
  }

  sortedKeys(bucket: Bucket): string[] {
    bucket.sortedKeys ??= [...bucket.objects.keys()].sort((a, b) => Buffer.compare(Buffer.from(a, 'utf8'), Buffer.from(b, 'utf8')));
    return bucket.sortedKeys;
  }

  async createBucket(name: string): Promise<void> {
    const createdAt = Date.now();
    this.buckets.set(name, { name, createdAt, objects: new Map(), sortedKeys: undefined, inFlight: new Map() });
    if (this.dataDir !== undefined) {
      const dir = this.bucketDir(name);
      await mkdir(join(dir, 'objects'), { recursive: true });
      await writeFile(join(dir, 'bucket.json'), JSON.stringify({ name, createdAt }));
    }
  }

  async deleteBucket(name: string): Promise<void> {
    const bucket = this.bucket(name);
    if (bucket.objects.size > 0) {
      throw new S3Error(409, 'BucketNotEmpty', 'The bucket you tried to delete is not empty', { BucketName: name });
    }
    this.buckets.delete(name);
    if (this.dataDir !== undefined) await rm(this.bucketDir(name), { recursive: true, force: true });
  }

  /** Commits synchronously in memory; the returned promise settles when the disk copy is written. */
  put(bucket: Bucket, object: StoredObject): Promise<void> {
    if (!bucket.objects.has(object.key)) bucket.sortedKeys = undefined;
    bucket.objects.set(object.key, object);
    return this.persist(bucket.name, object.key, object);
  }

  delete(bucketName: string, key: string): Promise<void> {
    const bucket = this.bucket(bucketName);
    if (!bucket.objects.delete(key)) return Promise.resolve();
    bucket.sortedKeys = undefined;
    for (const other of bucket.inFlight.get(key) ?? []) other.conflicted = true;
    return this.persist(bucketName, key, undefined);
  }

  async flush(): Promise<void> {
    await Promise.allSettled([...this.writes.values()]);
  }

  private bucketDir(name: string): string {
    return join(this.dataDir ?? '', 'buckets', name);
  }

  private persist(bucketName: string, key: string, object: StoredObject | undefined): Promise<void> {
    if (this.dataDir === undefined) return Promise.resolve();
    const id = `${bucketName}/${key}`;
    const previous = this.writes.get(id) ?? Promise.resolve();
    const next = previous.then(() => this.writeToDisk(bucketName, key, object));
    const tracked = next.finally(() => {
      if (this.writes.get(id) === tracked) this.writes.delete(id);
    });
    this.writes.set(
      id,
      tracked.catch(() => undefined),
    );
    return next;
  }

  /**
   * Layout: `buckets/<bucket>/objects/<sha256(key)>.json` (the sidecar: key and metadata) names
   * its body file `<sha256(key)>.<random>.bin`. The sidecar is written last, by rename, so a
   * crash leaves either the old object or the new one, never a mix.
   */
  private async writeToDisk(bucketName: string, key: string, object: StoredObject | undefined): Promise<void> {
    const dir = join(this.bucketDir(bucketName), 'objects');
    const base = createHash('sha256').update(key, 'utf8').digest('hex');
    const sidecar = join(dir, `${base}.json`);
    const old = await readFile(sidecar, 'utf8')
      .then((t) => (JSON.parse(t) as { bodyFile?: string }).bodyFile)
      .catch(() => undefined);
    if (object === undefined) {
      await rm(sidecar, { force: true });
    } else {
      const bodyFile = `${base}.${randomBytes(6).toString('hex')}.bin`;
      await writeFile(join(dir, bodyFile), object.body);
      const { body: _body, ...meta } = object;
      const tmp = `${sidecar}.${randomBytes(6).toString('hex')}.tmp`;
      await writeFile(tmp, JSON.stringify({ ...meta, size: object.body.length, bodyFile }));
      await rename(tmp, sidecar);
    }
    if (old !== undefined) await rm(join(dir, old), { force: true });
  }

  /**
   * Loads the kept buckets and objects. One that cannot be loaded (unreadable or invalid
   * `bucket.json` or sidecar, missing or wrong-sized body) is reported to `problem` and its files
   * are kept: they may be someone's only copy. Only leftovers of interrupted writes (`.tmp`
   * files, bodies no sidecar names) are removed.
   */
  async load(problem: (message: string) => void): Promise<void> {
    if (this.dataDir === undefined) return;
    const root = join(this.dataDir, 'buckets');
    await mkdir(root, { recursive: true });
    for (const name of await readdir(root)) {
      const dir = join(root, name);
      let info: { name: string; createdAt: number };
      try {
        info = JSON.parse(await readFile(join(dir, 'bucket.json'), 'utf8')) as typeof info;
        if (typeof info?.name !== 'string') throw new Error('it names no bucket');
      } catch (err) {
        problem(
          `cannot load bucket directory ${dir}: ${join(dir, 'bucket.json')}: ${describeLoadError(err)}; its files are kept, the bucket is not served`,
        );
        continue;
      }
      const bucket: Bucket = { name: info.name, createdAt: info.createdAt, objects: new Map(), sortedKeys: undefined, inFlight: new Map() };
      this.buckets.set(bucket.name, bucket);
      const objectsDir = join(dir, 'objects');
      await mkdir(objectsDir, { recursive: true });
      const files = await readdir(objectsDir);
      const referenced = new Set<string>();
      const unloadable = new Set<string>();
      for (const file of files.filter((f) => f.endsWith('.json'))) {
        const path = join(objectsDir, file);
        let meta: Omit<StoredObject, 'body'> & { size: number; bodyFile: string };
        try {
          meta = JSON.parse(await readFile(path, 'utf8')) as typeof meta;
          if (typeof meta?.key !== 'string' || typeof meta.bodyFile !== 'string' || typeof meta.size !== 'number') {
            throw new Error('it lacks key, bodyFile or size');
          }
        } catch (err) {
          problem(
            `cannot load kept object ${path} in bucket ${bucket.name}: ${describeLoadError(err)}; its files are kept, the object is not served`,
          );
          // Its body files (`<sha256(key)>.<random>.bin`) are kept with it.
          unloadable.add(file.slice(0, -'.json'.length));
          continue;
        }
        // Whatever happens next, the body file is the object's: never a leftover to remove.
        referenced.add(meta.bodyFile);
        let body: Buffer | undefined;
        let unreadable: string | undefined;
        try {
          body = await readFile(join(objectsDir, meta.bodyFile));
        } catch (err) {
          unreadable = describeLoadError(err);
        }
        if (body === undefined || body.length !== meta.size) {
          const why =
            body === undefined
              ? `its body ${meta.bodyFile} cannot be read (${unreadable})`
              : `its body ${meta.bodyFile} has ${body.length} bytes, expected ${meta.size}`;
          problem(
            `cannot load kept object ${meta.key} in bucket ${bucket.name}: ${why}; its files are kept (${path}), the object is not served`,
          );
          continue;
        }
        const { size: _size, bodyFile: _bodyFile, ...rest } = meta;
        bucket.objects.set(meta.key, { ...rest, body });
      }
      // Leftovers of writes that a crash interrupted.
      for (const file of files) {
        const leftover = file.endsWith('.bin') && !referenced.has(file) && !unloadable.has(file.slice(0, file.indexOf('.')));
        if (leftover || file.endsWith('.tmp')) await rm(join(objectsDir, file), { force: true });
      }
    }
  }
}

function describeLoadError(err: unknown): string {
  if (err instanceof SyntaxError) return `not valid JSON (${err.message})`;
  const code = (err as NodeJS.ErrnoException).code;
  return code === 'ENOENT' ? 'missing' : (err as Error).message;
}
