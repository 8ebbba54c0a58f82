/**
 * @module Group commit of server writes (not live/sequence.ts's). Callers queue a write; one transaction per event-loop
 * turn commits everything queued; each caller's promise settles only once that COMMIT is on disk,
 * so a handler that awaits it may answer 2xx knowing the write is durable.
 *
 * Durability without blocking: the database runs WAL with synchronous=NORMAL, so COMMIT only
 * write()s its frames to the WAL, and the writer then fdatasync()s the WAL file on libuv's thread
 * pool (`SyncWal`, from client.ts). Callers resolve when that sync returns. That is the same
 * guarantee synchronous=FULL gives (FULL syncs the WAL inside COMMIT) — NORMAL already syncs around
 * checkpoints, the only other place data moves — but the event loop keeps parsing requests while the
 * disk flushes, and transactions committed meanwhile share the next sync. One sync is in flight at a
 * time. A failed sync fails its callers and the writer for good (after a failed fsync the kernel
 * may have dropped the pages; retrying can falsely succeed), and /healthz turns 503.
 */
import { AppError } from '../errors.ts'
import type { Sqlite } from './client.ts'

/** Makes everything COMMITted so far durable, then calls back (off the event loop). */
export type SyncWal = (done: (err: Error | null) => void) => void

export type WriteOp<T> = (sqlite: Sqlite) => T

interface Pending {
  op: WriteOp<unknown>
  resolve: (v: unknown) => void
  reject: (e: unknown) => void
}

/**
 * Hooks around the transaction boundary: `rollback` discards work a failed op queued; `committed`
 * takes what a committed transaction made, handed back to `durable` once it is on disk (or to
 * `lost` if the sync failed). Durable calls come in commit order, before the callers resolve.
 */
export interface CommitHooks<Made = unknown, Mark = unknown> {
  /** Marks a point to roll back to (e.g. the hub's pending-event list length). */
  mark(): Mark
  rollback(mark: Mark): void
  committed(): Made
  durable(made: Made): void
  lost(made: Made): void
}

/** Seconds a client is asked to wait before retrying a write the disk refused. */
export const STORAGE_RETRY_AFTER_S = 30

/** Answered as 503 with Retry-After: the server is shutting down, or its disk failed. */
export class WriterClosedError extends AppError {
  override name = 'WriterClosedError'
  constructor(message: string) {
    super('UNAVAILABLE', message, undefined, { 'retry-after': String(STORAGE_RETRY_AFTER_S) })
  }
}

/**
 * SQLite errors that are the storage's, not the write's: a full disk (SQLITE_FULL), an I/O error
 * (SQLITE_IOERR_*), a read-only file or mount (SQLITE_READONLY_*), a lock held too long. The same
 * write can succeed later, so the caller gets a 503 (providers retry 5xx), never a 500.
 */
const STORAGE_CODE = /^SQLITE_(FULL|IOERR|READONLY|CANTOPEN|BUSY|LOCKED|NOMEM)/

export function isStorageError(e: unknown): e is Error & { code: string } {
  const code: unknown = e instanceof Error ? (e as Error & { code?: unknown }).code : undefined
  return typeof code === 'string' && STORAGE_CODE.test(code)
}

function storageRefusal(e: Error & { code: string }): WriterClosedError {
  return new WriterClosedError(`the database can't be written right now: ${e.message} (${e.code}); retry later`)
}

/** Told about each COMMIT and WAL sync (server/observability): batch size and seconds taken. */
export interface WriterObserver {
  committed(ops: number, seconds: number): void
  synced(seconds: number): void
}

interface Committed {
  settle(): void
  fail(err: Error): void
}

export class Writer {
  private queue: Pending[] = []
  private scheduled = false
  private closed = false
  private idle: (() => void)[] = []
  private hooks: CommitHooks[] = []
  /** Committed, waiting for the next WAL sync. */
  private unsynced: Committed[] = []
  private syncing = false
  /** Set when a sync failed: the writer refuses everything after it. */
  failed: Error | null = null
  /**
   * The last write the storage refused (full disk, I/O error, read-only), until a COMMIT succeeds
   * again: nothing is stopped, each write tries again, and /healthz reports it meanwhile.
   */
  refused: { error: string; since: number } | null = null
  private begin
  private commitStmt
  private rollbackStmt
  /** Batches committed and ops written, for /healthz and the benchmark. */
  stats = { batches: 0, ops: 0, failed: 0 }
  observer: WriterObserver | null = null

  constructor(
    private sqlite: Sqlite,
    private syncWal: SyncWal
  ) {
    this.begin = sqlite.prepare('BEGIN IMMEDIATE')
    this.commitStmt = sqlite.prepare('COMMIT')
    this.rollbackStmt = sqlite.prepare('ROLLBACK')
  }

  addHooks<Made, Mark>(h: CommitHooks<Made, Mark>): void {
    this.hooks.push(h as CommitHooks)
  }

  write<T>(op: WriteOp<T>): Promise<T> {
    if (this.failed) return Promise.reject(this.refusal(this.failed))
    if (this.closed) return Promise.reject(new WriterClosedError('the database is closing'))
    return new Promise<T>((resolve, reject) => {
      this.queue.push({ op, resolve: resolve as (v: unknown) => void, reject })
      if (!this.scheduled) {
        this.scheduled = true
        // setImmediate runs after the I/O callbacks of this turn, so every request parsed in the
        // same turn joins one transaction.
        setImmediate(() => this.flush())
      }
    })
  }

  /** Commits what is queued now (also used on shutdown). */
  flush(): void {
    this.scheduled = false
    // While a sync is in flight, the next one can't start before it returns anyway: writes keep
    // queueing and commit in one transaction when it does (bigger batches, same latency).
    if (this.syncing) return
    const batch = this.queue
    if (batch.length === 0) return this.settleIdle()
    this.queue = []
    if (this.failed) {
      for (const p of batch) p.reject(this.refusal(this.failed))
      return this.settleIdle()
    }
    const marks = this.hooks.map((h) => h.mark())
    const results: unknown[] = []
    try {
      this.begin.run()
      for (const p of batch) results.push(p.op(this.sqlite))
      this.commit(batch.length)
    } catch {
      // Optimistic batching keeps the hot path free of savepoints; when one op fails, the batch is
      // rolled back and replayed one op per transaction so only the failing caller sees the error.
      this.rollback()
      this.hooks.forEach((h, i) => h.rollback(marks[i]))
      return this.replayOneByOne(batch)
    }
    this.refused = null
    this.stats.batches++
    this.stats.ops += batch.length
    this.committed(batch, results)
    this.settleIdle()
  }

  /** After a COMMIT: hand what it made to the hooks, and settle its callers after the next sync. */
  private committed(batch: Pending[], results: unknown[]): void {
    const made = this.hooks.map((h) => h.committed())
    this.unsynced.push({
      settle: () => {
        this.hooks.forEach((h, i) => h.durable(made[i]))
        batch.forEach((p, i) => p.resolve(results[i]))
      },
      fail: (err) => {
        this.hooks.forEach((h, i) => h.lost(made[i]))
        for (const p of batch) p.reject(new WriterClosedError(`the commit could not be made durable: ${err.message}`))
      },
    })
    this.sync()
  }

  private commit(ops: number): void {
    if (!this.observer) return void this.commitStmt.run()
    const t = performance.now()
    this.commitStmt.run()
    this.observer.committed(ops, (performance.now() - t) / 1000)
  }

  private refusal(failed: Error): WriterClosedError {
    return new WriterClosedError(`the database can't be written: ${failed.message}`)
  }

  private sync(): void {
    if (this.syncing || this.unsynced.length === 0) return
    if (this.failed) {
      for (const c of this.unsynced.splice(0)) c.fail(this.failed)
      return
    }
    const covered = this.unsynced
    this.unsynced = []
    this.syncing = true
    const t = performance.now()
    this.syncWal((err) => {
      this.syncing = false
      this.observer?.synced((performance.now() - t) / 1000)
      if (err) this.failed ??= err
      for (const c of covered) err ? c.fail(err) : c.settle()
      if (this.queue.length > 0) this.flush()
      this.sync() // commits replayed one by one may still wait
      this.settleIdle()
    })
  }

  /** Runs inside setImmediate: a throw here (ROLLBACK on a failing disk) would end the process. */
  private rollback(): void {
    try {
      if (this.sqlite.inTransaction) this.rollbackStmt.run()
    } catch {
      // SQLite rolls a transaction back itself when it can't write its journal (FULL, IOERR).
    }
  }

  private replayOneByOne(batch: Pending[]): void {
    for (const p of batch) {
      const marks = this.hooks.map((h) => h.mark())
      let result: unknown
      try {
        this.begin.run()
        result = p.op(this.sqlite)
        this.commit(1)
      } catch (e) {
        this.rollback()
        this.hooks.forEach((h, i) => h.rollback(marks[i]))
        this.stats.failed++
        if (isStorageError(e)) {
          this.refused ??= { error: `${e.message} (${e.code})`, since: Date.now() }
          p.reject(storageRefusal(e))
        } else p.reject(e)
        continue
      }
      this.refused = null
      this.stats.batches++
      this.stats.ops++
      this.committed([p], [result])
    }
    this.settleIdle()
  }

  private get busy(): boolean {
    return this.queue.length > 0 || this.scheduled || this.syncing || this.unsynced.length > 0
  }

  private settleIdle(): void {
    if (this.busy) return
    const waiters = this.idle
    this.idle = []
    for (const w of waiters) w()
  }

  /** Resolves when everything queued so far is committed and durable. */
  drain(): Promise<void> {
    if (!this.busy) return Promise.resolve()
    return new Promise((r) => this.idle.push(r))
  }

  /** Refuses new writes, then commits what is queued. */
  async close(): Promise<void> {
    this.closed = true
    if (this.queue.length > 0) this.flush()
    await this.drain()
  }
}
