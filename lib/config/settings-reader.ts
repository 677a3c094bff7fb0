/**
 * Reads environment-style settings one by one, collecting every problem, worded as the zod
 * schema that lib/config/config.ts replaced worded them (test/unit/config-oracle.test.ts).
 */

/**
 * One problem with a setting. `fatal` problems (a missing or unparseable value) leave the
 * setting without a usable value, so the checks across settings do not run; the others (a
 * value out of range, a bad pattern) do not stop them, as with the zod schema before.
 */
export interface Problem {
  readonly name: string;
  readonly message: string;
  readonly fatal: boolean;
}

/** Reads the settings one by one, in a fixed order, collecting every problem. */
export class SettingsReader {
  readonly problems: Problem[] = [];
  readonly #env: Readonly<Record<string, string | undefined>>;

  constructor(env: Readonly<Record<string, string | undefined>>) {
    this.#env = env;
  }

  get fatal(): boolean {
    return this.problems.some((problem) => problem.fatal);
  }

  #problem(name: string, message: string, fatal = false): void {
    this.problems.push({ name, message, fatal });
  }

  /** A required string matching `pattern`. */
  required(name: string, pattern: RegExp, mismatch: string): string {
    const value = this.#env[name];
    if (value === undefined) {
      this.#problem(name, `${name} is required`, true);
      return '';
    }
    if (!pattern.test(value)) this.#problem(name, mismatch);
    return value;
  }

  /** An optional string, with zod's length bounds. */
  string(name: string, bounds: { min?: number; max?: number; pattern?: readonly [RegExp, string] } = {}): string | undefined {
    const value = this.#env[name];
    if (value === undefined) return undefined;
    if (bounds.pattern && !bounds.pattern[0].test(value)) this.#problem(name, bounds.pattern[1]);
    if (bounds.min !== undefined && value.length < bounds.min)
      this.#problem(name, `Too small: expected string to have >=${bounds.min} characters`);
    if (bounds.max !== undefined && value.length > bounds.max)
      this.#problem(name, `Too big: expected string to have <=${bounds.max} characters`);
    return value;
  }

  /** One of `values`; undefined when absent. */
  option<T extends string>(name: string, values: readonly T[], message?: string): T | undefined {
    const value = this.#env[name];
    if (value === undefined) return undefined;
    if ((values as readonly string[]).includes(value)) return value as T;
    this.#problem(name, message ?? `Invalid option: expected one of ${values.map((v) => `"${v}"`).join('|')}`, true);
    return undefined;
  }

  /** A whole number in [min, max] (`Number()` of the text, as zod's coercion); undefined when absent. */
  integer(name: string, min: number, max?: number): number | undefined {
    const text = this.#env[name];
    if (text === undefined) return undefined;
    const value = Number(text);
    if (!Number.isFinite(value)) {
      this.#problem(name, `Invalid input: expected number, received ${Number.isNaN(value) ? 'NaN' : String(value)}`, true);
      return undefined;
    }
    if (!Number.isInteger(value)) {
      this.#problem(name, 'Invalid input: expected int, received number', true);
      return undefined;
    }
    if (value > Number.MAX_SAFE_INTEGER) this.#problem(name, `Too big: expected int to be <=${Number.MAX_SAFE_INTEGER}`);
    if (value < Number.MIN_SAFE_INTEGER) this.#problem(name, `Too small: expected int to be >=${Number.MIN_SAFE_INTEGER}`);
    if (value < min) this.#problem(name, `Too small: expected number to be >=${min}`);
    if (max !== undefined && value > max) this.#problem(name, `Too big: expected number to be <=${max}`);
    return value;
  }

  /** A prefix: `/` appended unless empty or already there; never starting with `/`, never empty. */
  prefix(name: string, fallback: string): string {
    const text = this.#env[name] ?? fallback;
    const value = text === '' || text.endsWith('/') ? text : `${text}/`;
    if (value.startsWith('/')) this.#problem(name, `${name} must not start with "/"`);
    if (value === '') this.#problem(name, `${name} must not be empty (dead letters need a prefix outside the sink's)`);
    return value;
  }

  /**
   * An http(s) URL, as zod's `z.url({ protocol: /^https?$/ })` took it: the text trimmed, with
   * `://` after the scheme, parseable by WHATWG's URL, and its tabs and line breaks removed.
   */
  url(name: string): string | undefined {
    const text = this.#env[name];
    if (text === undefined) return undefined;
    const trimmed = text.trim();
    const url = /^https?:\/\//i.test(trimmed) ? parseUrl(trimmed) : null;
    if (url === null || !/^https?$/.test(url.protocol.slice(0, -1))) {
      this.#problem(name, 'Invalid URL');
      return text;
    }
    return trimmed.replace(/[\t\n\r]/g, '');
  }

  /** A problem found across settings (never stops anything: these are the last checks). */
  add(name: string, message: string): void {
    this.#problem(name, message);
  }
}

/** WHATWG's URL of a text, or null (`URL.parse`, which Node 20 lacks). */
function parseUrl(text: string): URL | null {
  try {
    return new URL(text);
  } catch {
    return null;
  }
}
