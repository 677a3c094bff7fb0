/**
 * The scheduled manifest writer's listing (incremental.ts): the objects written past each
 * partition's cursor, listed from the oldest directory still needed where the layout allows, and
 * the share of them a run examines.
 */
import type { Inventory } from '../aws/s3-inventory.ts';
import type { Layout } from '../layout/layout.ts';
import { defaultPathFormat } from '../layout/layout.ts';
import { parseObjectName } from '../layout/naming.ts';
import { parsePathFormat } from '../layout/path-format.ts';
import type { AuditedLedgerEntry } from '../ledger/admin.ts';
import type { OpenDirectory, PartitionCursor } from './state.ts';

/** An object on a partition's chain past its cursor, by its key alone (not examined yet). */
export interface Candidate {
  readonly key: string;
  readonly firstOffset: number;
}

/**
 * Whether directory paths sort in time order (so a listing can start after the oldest
 * directory still needed): only time fields and literal text, the fields from the year down
 * without a gap, and minutes only in UTC (local minutes repeat at a DST change; local hours only
 * repeat inside one directory).
 */
export function pathsSortByTime(layout: Layout): boolean {
  const segments = parsePathFormat(layout.settings.pathFormat ?? defaultPathFormat(layout.settings));
  const order = ['yyyy', 'MM', 'dd', 'HH', 'mm'];
  let next = 0;
  for (const segment of segments) {
    if (segment.kind === 'literal') continue;
    if (segment.kind !== 'time' || segment.unit !== order[next]) return false;
    next += 1;
  }
  const utc = layout.settings.timezone === 'UTC' || layout.settings.timezone === 'Etc/UTC';
  return next > 0 && (next < 5 || utc);
}

/**
 * Where a listing can start (exclusive; for a layout whose paths sort by time): at the oldest
 * open directory, or at the directory of `passed`, the time every partition has passed minus the
 * grace. Undefined when no partition has a watermark yet.
 */
export function listingStart(input: {
  readonly layout: Layout;
  readonly base: string;
  readonly topic: string;
  readonly cursors: ReadonlyMap<number, PartitionCursor>;
  readonly open: ReadonlyMap<string, OpenDirectory>;
  readonly passed: number;
}): string | undefined {
  if (!Number.isFinite(input.passed)) return undefined;
  const [anyPartition] = [...input.cursors.keys()];
  let low = input.layout.route({
    topic: input.topic,
    partition: anyPartition!,
    offset: 0,
    timestamp: input.passed,
    timestampType: null,
    key: null,
    value: null,
    headers: [],
  }).path;
  for (const path of input.open.keys()) if (path < low) low = path;
  return `${input.base}${low}`;
}

/**
 * The topic's objects past each partition's cursor up to its committed offset, in the cursor's
 * generation, per partition in offset order (listed after `startAfter`, if given).
 */
export async function listNewObjects(input: {
  readonly inventory: Inventory;
  readonly base: string;
  readonly startAfter: string | undefined;
  readonly topic: string;
  readonly cursors: ReadonlyMap<number, PartitionCursor>;
  readonly entries: ReadonlyMap<number, AuditedLedgerEntry>;
}): Promise<Map<number, Candidate[]>> {
  const { startAfter, topic, cursors, entries } = input;
  const candidates = new Map<number, Candidate[]>();
  for await (const object of input.inventory.list(input.base, startAfter)) {
    if (startAfter !== undefined && object.key <= startAfter) continue;
    const name = parseObjectName(object.key.slice(object.key.lastIndexOf('/') + 1));
    if (!name || name.topic !== topic) continue;
    const cursor = cursors.get(name.partition);
    const entry = entries.get(name.partition);
    if (!cursor || !entry || name.generation !== cursor.generation) continue;
    if (name.firstOffset <= cursor.offset || name.firstOffset > entry.committedOffset) continue;
    let list = candidates.get(name.partition);
    if (!list) candidates.set(name.partition, (list = []));
    list.push({ key: object.key, firstOffset: name.firstOffset });
  }
  for (const list of candidates.values()) list.sort((a, b) => a.firstOffset - b.firstOffset);
  return candidates;
}

/**
 * Up to `budget` candidates, taken round robin over the partitions (in partition order) so that a
 * partition far behind still advances; with the partitions in order and the candidates' total.
 */
export function pickRoundRobin(
  candidates: ReadonlyMap<number, readonly Candidate[]>,
  budget: number,
): { chosen: Map<number, Candidate[]>; order: number[]; total: number } {
  const chosen = new Map<number, Candidate[]>();
  const order = [...candidates.keys()].sort((a, b) => a - b);
  let total = 0;
  for (const list of candidates.values()) total += list.length;
  let picked = 0;
  for (let round = 0; picked < budget && picked < total; round++) {
    for (const partition of order) {
      const item = candidates.get(partition)![round];
      if (!item || picked >= budget) continue;
      let list = chosen.get(partition);
      if (!list) chosen.set(partition, (list = []));
      list.push(item);
      picked += 1;
    }
  }
  return { chosen, order, total };
}
