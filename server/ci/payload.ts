/**
 * @module Safe readers for untrusted provider JSON: wrong types read as missing, strings cut to a
 * bound. Every reader takes `unknown`, so a hostile or malformed body can only produce null.
 */

export type Obj = Record<string, unknown>

const LONE_SURROGATE = /[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/g

/**
 * A delivery's body as JSON, every string well-formed: a `\uD800` escape would otherwise reach
 * SQLite as a lone surrogate, be stored as bytes that read back as U+FFFD, and leave a build whose
 * id no longer finds it. Bodies without a surrogate escape (nearly all) skip the reviver.
 */
export function parseBody(raw: Buffer): unknown {
  const text = raw.toString('utf8')
  // Buffer.indexOf is a byte search: the regex walks the text only when a \u escape is there at all.
  if (raw.indexOf('\\u') === -1 || !/\\u[dD][89a-fA-F]/.test(text)) return JSON.parse(text)
  return JSON.parse(text, (_k, v: unknown) => (typeof v === 'string' ? v.replace(LONE_SURROGATE, '\uFFFD') : v))
}

/** A plain JSON object, else undefined (arrays and null are not objects here). */
export const obj = (v: unknown): Obj | undefined =>
  v !== null && typeof v === 'object' && !Array.isArray(v) ? (v as Obj) : undefined

/** A JSON array, else empty. */
export const arr = (v: unknown): unknown[] => (Array.isArray(v) ? v : [])

/** Trimmed non-empty text cut to `max`, else null: payload text is untrusted. */
export const str = (v: unknown, max = 300): string | null =>
  typeof v === 'string' && v.trim() !== '' ? v.trim().slice(0, max) : null

/** A non-negative safe integer, else null. */
export const int = (v: unknown): number | null =>
  typeof v === 'number' && Number.isSafeInteger(v) && v >= 0 ? v : null

/** An id sent as a number or a string, as text. */
export const idOf = (v: unknown): string | null => (int(v) !== null ? String(v) : str(v, 200))

/** The first non-empty line of a text, cut to 1000. */
export const firstLine = (v: unknown): string | null =>
  typeof v === 'string' ? str(v.trim().split(/\r?\n/)[0], 1000) : null

/** The first of `vs` that reads as text, cut to `max`. */
export const first = (max: number, ...vs: unknown[]): string | null =>
  vs.map((v) => str(v, max)).find((s) => s !== null) ?? null

/**
 * `table[key]` for a string key the table itself holds. Own keys only, so a hostile
 * `"constructor"` or `"toString"` never finds an inherited property. The key is not trimmed.
 */
export const lookup = <T>(table: Record<string, T>, key: unknown): T | undefined =>
  typeof key === 'string' && Object.hasOwn(table, key) ? table[key] : undefined

/** The path of an absolute URL (`/org/repo`), else null. */
export function urlPath(v: unknown): string | null {
  try {
    return new URL(String(v)).pathname
  } catch {
    return null
  }
}

const HEADS = 'refs/heads/'
const TAGS = 'refs/tags/'

/** `refs/heads/main` → `main` (uncut, possibly empty); null for any other ref. */
export const branchOf = (ref: string | null): string | null => (ref?.startsWith(HEADS) ? ref.slice(HEADS.length) : null)

/** `refs/tags/v1` → `v1` cut to 300; null for any other ref or an empty tag name. */
export const tagOf = (ref: string | null): string | null =>
  ref?.startsWith(TAGS) ? ref.slice(TAGS.length, TAGS.length + 300) || null : null
