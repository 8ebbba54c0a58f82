/**
 * @module PostgreSQL's text refuses the NUL character (U+0000: "invalid byte sequence for encoding
 * UTF8: 0x00"), which SQLite stores like any other. Everything Radiator stores comes from CIs and
 * browsers as untrusted text, and a commit subject or a page path with a NUL in it is bad input, not
 * a reason for a 500. So every query on every connection (the pool's and the writer's) has the NULs
 * in its string parameters, and in arrays of them (the batched `unnest` inserts), replaced by U+FFFD,
 * the replacement character, as a decoder does with a byte it cannot use. Byte parameters (raw
 * bodies, bytea) are left alone: they keep the delivery exactly as it came.
 * Cost: one `indexOf` per string parameter (no copy unless a NUL is there).
 */
import type pg from 'pg'

const NUL = '\u0000'

function clean(v: unknown): unknown {
  if (typeof v === 'string') return v.includes(NUL) ? v.replaceAll(NUL, '\uFFFD') : v
  if (Array.isArray(v)) {
    let out: unknown[] | null = null
    for (let i = 0; i < v.length; i++) {
      const c = clean(v[i])
      if (c !== v[i]) (out ??= v.slice())[i] = c
    }
    return out ?? v
  }
  return v
}

const patched = new WeakSet<object>()

/** Makes `client.query` clean its parameters (idempotent). */
export function withCleanText<C extends pg.ClientBase>(client: C): C {
  if (patched.has(client)) return client
  patched.add(client)
  const query = client.query.bind(client) as (...args: unknown[]) => unknown
  ;(client as { query: unknown }).query = (...args: unknown[]) => {
    const [first, second] = args
    if (Array.isArray(second)) args[1] = clean(second)
    else if (first && typeof first === 'object' && Array.isArray((first as { values?: unknown }).values)) {
      const values = clean((first as { values: unknown[] }).values)
      if (values !== (first as { values: unknown[] }).values) args[0] = { ...(first as object), values }
    }
    return query(...args)
  }
  return client
}
