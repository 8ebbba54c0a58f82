/**
 * @module Store logic written once for both engines. A rule that reads and writes rows (how a build
 * update merges, what a tile shows) is a generator of `Step`s: each statement it runs is `yield*`ed.
 * On SQLite the statements are synchronous and never yield, so `runSync` drives the logic inside the
 * writer's one synchronous transaction, as before, with no promise and no microtask in between
 * (the writer's guarantees rest on that: server/db/writer.ts, live/sequence.ts). On PostgreSQL each
 * statement yields its promise and `runAsync` awaits it. The alternative, making every store call
 * async on both engines, would let other work interleave inside SQLite transactions.
 * Cost on SQLite: one generator object per statement, ~0.1 µs, against ~700 µs of CPU per delivery.
 */

/** A piece of store logic that may wait on the database for each of its statements. */
export type Step<T> = Generator<Promise<unknown>, T, unknown>

/** Runs logic whose statements are synchronous (SQLite); a statement that waits is a bug, and throws. */
export function runSync<T>(step: Step<T>): T {
  const r = step.next()
  if (!r.done) throw new Error('a synchronous store step waited on a promise')
  return r.value
}

/** Runs logic whose statements answer with promises (PostgreSQL), one after the other. */
export async function runAsync<T>(step: Step<T>): Promise<T> {
  let r = step.next()
  while (!r.done) r = step.next(await r.value)
  return r.value
}

/** A statement that answers with a promise, as a step. */
export function* awaited<T>(p: Promise<T>): Step<T> {
  return (yield p) as T
}

/**
 * A statement that answered at once (SQLite), as a step: `yield*` on it returns the value without
 * yielding. A small object rather than a generator function, which would hold nothing to yield.
 */
export function done<T>(value: T): Step<T> {
  return new Done(value) as unknown as Step<T>
}

class Done<T> {
  constructor(private value: T) {}
  [Symbol.iterator]() {
    return this
  }
  next(): IteratorReturnResult<T> {
    return { done: true, value: this.value }
  }
}
