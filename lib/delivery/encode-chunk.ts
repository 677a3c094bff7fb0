import type { PoisonRecordError } from '../core/errors.ts';
import type { KafkaRecord } from '../core/model.ts';
import { createLayout, DEFAULT_LAYOUT, type Layout, UNPARTITIONED_PATH } from '../layout/layout.ts';

/** The layout when the options give none: `partition={p}`, as before layouts existed. */
export const defaultLayout: Layout = createLayout(DEFAULT_LAYOUT);

export interface Chunk {
  /** Records of the range, in order: those in `body` and those in `deadLetters`. */
  readonly firstOffset: number;
  /** The object's directory: the layout's path of its first record. */
  readonly path: string;
  readonly lastOffset: number;
  /** The object's body (uncompressed) and how many records it holds. */
  readonly body: Uint8Array;
  readonly recordCount: number;
  /** The oldest and newest timestamps of the records in `body` (undefined: none has one). */
  readonly minTimestamp: number | undefined;
  readonly maxTimestamp: number | undefined;
  readonly deadLetters: Array<{ record: KafkaRecord; error: PoisonRecordError }>;
  /** Set when errors.tolerance=none stopped the chunk before a poison record. */
  readonly poison: PoisonRecordError | undefined;
}

/** The directory of an object whose first record is `record`, as `#encode` names it. */
export function pathOf(layout: Layout, record: KafkaRecord): string {
  const fixed = layout.fixedPath(record);
  if (fixed !== undefined) return fixed;
  try {
    return layout.route(record).path;
  } catch {
    return UNPARTITIONED_PATH;
  }
}
