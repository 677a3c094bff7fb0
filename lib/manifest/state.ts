/**
 * The scheduled manifest writer's state between runs, one object per topic
 * (`MANIFEST_STATE_NAME`): each partition's cursor on its chain and the directories seen but not
 * complete yet. Read back by `parseState`, which refuses a state of another topic or settings.
 */
import { Buffer } from 'node:buffer';
import type { ManifestObject } from './manifest.ts';

/** One partition's cursor: how far the writer has walked its chain. */
export interface PartitionCursor {
  readonly generation: number;
  /** Resets in the ledger's history when the cursor started: a new reset restarts the partition. */
  readonly resets: number;
  /** The chain offset examined up to (the last examined object's last offset; at first the generation's start). */
  offset: number;
  /** The largest `max-timestamp` examined (the partition's watermark), null before any. */
  watermark: number | null;
  /**
   * `[last offset, watermark]` at each rise of the watermark, from which a directory found later
   * gets this partition's cut (the first object whose `max-timestamp` reaches the threshold).
   * Rises at or below every partition's watermark can no longer be anyone's cut and are dropped,
   * so the list stays as long as the partitions' skew.
   */
  steps: Array<[number, number]>;
}

/** A time directory seen but whose manifest is not written yet. */
export interface OpenDirectory {
  readonly start: number;
  readonly end: number;
  /** Per partition: the cut (`completeThrough`) once its watermark reached end + grace. */
  readonly cuts: Record<string, number>;
  /** Per partition: the directory's objects on its chain up to the cut, in chain order. */
  readonly objects: Record<string, ManifestObject[]>;
}

/** The scheduled writer's state for one topic (the JSON of `_manifest-state.json`). */
export interface ManifestState {
  readonly version: 1;
  readonly topic: string;
  /** The layout and grace the state was computed with: a change starts over. */
  readonly settings: string;
  readonly partitions: Record<string, PartitionCursor>;
  readonly open: Record<string, OpenDirectory>;
}

/** The state in `body`, or why it cannot be used (then the writer starts over). */
export function parseState(body: Uint8Array, topic: string, settings: string): ManifestState | string {
  let state: ManifestState;
  try {
    state = JSON.parse(Buffer.from(body).toString('utf8')) as ManifestState;
  } catch {
    return 'the state object is not JSON';
  }
  if (state?.version !== 1 || state.topic !== topic || typeof state.partitions !== 'object' || typeof state.open !== 'object') {
    return 'the state object is not a version-1 state of this topic';
  }
  if (state.settings !== settings) return 'the layout or grace changed';
  return state;
}
