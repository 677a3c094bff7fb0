/**
 * The WebAssembly fast path of `compactJsonInto` (json-bytes.ts): decides, with SIMD, whether
 * UTF-8 bytes are one *compact* JSON value (no whitespace outside strings), the form producers
 * usually send. Then the compact output is the input as is, and the caller copies it with one
 * `set` instead of running the byte-at-a-time JS minifier, which costs about twice as much
 * even with the copy into wasm memory counted. Input with whitespace outside strings
 * (pretty-printed values) is compacted by the wasm side too, in wasm memory, about three times
 * as fast as the JS minifier. What it leaves undecided (nesting deeper than 1024, no
 * WebAssembly) goes to the JS minifier.
 *
 * Source: wasm/json-validator.as.ts (AssemblyScript); the bytes come from the generated
 * wasm/json-validator.wasm.ts (`npm run build:wasm`).
 */
import { JSON_VALIDATOR_WASM_BASE64 } from './wasm/json-validator.wasm.ts';

/** The validator's answers: see {@link validateCompactJson}; INVALID and UNDECIDED are also {@link compactJsonInWasm}'s. */
export const CompactJsonVerdict = {
  /** One JSON value with no whitespace outside strings: its compact form is the input as is. */
  VALID: 0,
  /** Not one JSON value (the JS minifier says the same). */
  INVALID: -1,
  /** Not decided here (whitespace outside strings, deep nesting, no WebAssembly): ask the JS minifier. */
  UNDECIDED: -2,
} as const;
export type CompactJsonVerdict = (typeof CompactJsonVerdict)[keyof typeof CompactJsonVerdict];

/**
 * The part of the WebAssembly JS API used here. TypeScript declares it in the DOM lib, which
 * this project does not load; and the global may be missing (node --jitless), hence optional.
 */
interface WebAssemblyApi {
  Module: new (bytes: Uint8Array) => object;
  Instance: new (module: object, imports: object) => { readonly exports: unknown };
}

/** What the module exports (see the .as.ts source). */
interface ValidatorExports {
  readonly memory: { readonly buffer: ArrayBuffer; grow(pages: number): number };
  /** First byte of the region the caller may use; the validator's own data lies below it. */
  scratchStart(): number;
  /** How many bytes past a value's end the validator may read (never letting them change its verdict). */
  readPastEnd(): number;
  /** 0 valid and compact, -1 invalid, -2 whitespace outside strings, -3 too deep. */
  validate(start: number, end: number): number;
  /** Compacts [start, end) in place: the compact length (at start), or -1 invalid, -3 too deep. */
  compact(start: number, end: number): number;
}

const PAGE_BYTES = 65536;

/**
 * The instance, or undefined when WebAssembly (with SIMD) is not available: then everything is
 * undecided and the JS minifier runs, with the same results, only slower. Compiled
 * synchronously once at import: the module is about 8 kB, so this costs well under a
 * millisecond of cold start.
 */
const wasm: ValidatorExports | undefined = (() => {
  try {
    const api = (globalThis as { WebAssembly?: WebAssemblyApi }).WebAssembly;
    if (api === undefined) return undefined;
    const module = new api.Module(Buffer.from(JSON_VALIDATOR_WASM_BASE64, 'base64'));
    return new api.Instance(module, {}).exports as ValidatorExports;
  } catch {
    return undefined; // e.g. an engine without SIMD rejects the module
  }
})();

/** Where values are copied in wasm memory: one region for all calls, which are synchronous. */
const scratch = wasm?.scratchStart() ?? 0;
/** Memory the validator reads past a value's end (block loads); it must exist, whatever it holds. */
const readPastEnd = wasm?.readPastEnd() ?? 0;
/**
 * A view of the whole wasm memory (a Buffer for its `copy`). Growing the memory detaches it,
 * so it is re-created right after each `grow`; only `ensureScratch` grows the memory (the
 * validator never allocates).
 */
let memory = wasm ? Buffer.from(wasm.memory.buffer) : Buffer.alloc(0);

/** Set by tests to run the JS minifier for everything, as when WebAssembly is unavailable. */
let forcedFallback = false;

/** Grows the wasm memory so that `length` bytes (and what is read past them) fit from `scratch`; false when it cannot. */
function ensureScratch(exports: ValidatorExports, length: number): boolean {
  const needed = scratch + length + readPastEnd;
  if (needed <= memory.length) return true;
  try {
    exports.memory.grow(Math.ceil((needed - memory.length) / PAGE_BYTES));
  } catch {
    return false; // no more memory for wasm (RangeError): the JS minifier needs none
  } finally {
    memory = Buffer.from(exports.memory.buffer);
  }
  return true;
}

/**
 * Copies `src` into the scratch region and returns the validator; undefined when the wasm side
 * cannot take it (no WebAssembly, forced off, or no memory for it), and then nothing is copied.
 */
function loadScratch(src: Uint8Array): ValidatorExports | undefined {
  if (wasm === undefined || forcedFallback || !ensureScratch(wasm, src.length)) return undefined;
  memory.set(src, scratch);
  return wasm;
}

/**
 * Decides whether `src` (valid UTF-8) is one compact JSON value: VALID (then `src` is its own
 * compact form), INVALID (`compactJsonInto` would return -1), or UNDECIDED (whitespace outside
 * strings, nesting deeper than 1024, or no WebAssembly). Only the check: `compactJsonInto` uses
 * {@link compactJsonInWasm}, which also compacts what has whitespace.
 */
export function validateCompactJson(src: Uint8Array): CompactJsonVerdict {
  const validator = loadScratch(src);
  if (validator === undefined) return CompactJsonVerdict.UNDECIDED;
  const verdict = validator.validate(scratch, scratch + src.length);
  return verdict === 0 ? CompactJsonVerdict.VALID : verdict === -1 ? CompactJsonVerdict.INVALID : CompactJsonVerdict.UNDECIDED;
}

/**
 * Compacts `src` (valid UTF-8) in wasm memory: returns the length of its compact form, which
 * {@link copyWasmCompacted} then copies out, or INVALID (`compactJsonInto` would return -1), or
 * UNDECIDED (nesting deeper than 1024, or no WebAssembly: run the JS minifier). Compact input
 * (the common case) is only validated, and its length is `src.length`: then `src` itself is
 * the compact form. Otherwise (whitespace outside strings) the wasm side removes the
 * whitespace, exactly as the JS minifier would.
 */
export function compactJsonInWasm(src: Uint8Array): number {
  // The wasm side returns lengths as i32: a value of 2 GiB or more (never seen) goes to the JS minifier.
  const validator = src.length > 0x7fffffff ? undefined : loadScratch(src);
  if (validator === undefined) return CompactJsonVerdict.UNDECIDED;
  const end = scratch + src.length;
  const verdict = validator.validate(scratch, end);
  if (verdict === 0) return src.length;
  // Whitespace outside strings: compact from the start (pretty-printed values have whitespace
  // right after their first byte, so what `validate` scanned before giving up is short).
  const length = verdict === -2 ? validator.compact(scratch, end) : verdict;
  return length >= 0 ? length : length === -1 ? CompactJsonVerdict.INVALID : CompactJsonVerdict.UNDECIDED;
}

/**
 * Copies the compact form that {@link compactJsonInWasm} just wrote (`length` bytes, what it
 * returned) from wasm memory into `dst` at `out`, and returns `out + length`. Valid only until
 * the next call into this module.
 */
export function copyWasmCompacted(dst: Uint8Array, out: number, length: number): number {
  // Buffer#copy with offsets, not dst.set(memory.subarray(...)): no view to allocate per value.
  memory.copy(dst, out, scratch, scratch + length);
  return out + length;
}

/** Whether the WebAssembly validator is in use (false when it failed to load, or is forced off). */
export function wasmValidatorActive(): boolean {
  return wasm !== undefined && !forcedFallback;
}

/** For tests: with `on`, every answer is UNDECIDED, as when WebAssembly is unavailable. */
export function forceFallbackForTests(on: boolean): void {
  forcedFallback = on;
}
