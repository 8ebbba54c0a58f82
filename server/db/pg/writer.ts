/**
 * @module Group commit on PostgreSQL: the same promise as server/db/writer.ts on SQLite — a caller's
 * promise settles only once its write is COMMITted and durable, so a handler that awaits it may answer
 * 2xx — with the same batching: writes queued while a transaction is open go into the next one.
 *
 * Durability: COMMIT returns after the WAL flush with `synchronous_commit = on` (PostgreSQL's default;
 * the writer's connection sets it explicitly, so a server configured otherwise cannot weaken the 2xx).
 *
 * One transaction at a time per instance, on one connection: the queue's order is the COMMIT order of
 * this instance's writes, as on SQLite. Instances write concurrently; PostgreSQL's row locks order
 * writes to the same rows, and a batch that deadlocks with another instance's (40P01) or fails to
 * serialize (40001) is retried op by op, like a batch in which one op failed.
 *
 * Hooks: `beforeCommit` runs as the batch's last statements (the event log takes its ids there, so the
 * counter row it locks is held only for the COMMIT: cluster/event-log.ts); the rest are the SQLite
 * writer's `CommitHooks`, with `durable` called straight after `committed`, since COMMIT is the flush.
 */
import pg from 'pg'
import { withCleanText } from './text.ts'
import { AppError } from '../../errors.ts'
import { WriterClosedError, type CommitHooks, type WriterObserver } from '../writer.ts'

export type PgOp<T> = (tx: pg.ClientBase) => Promise<T>

export interface PgCommitHooks<Made = unknown, Mark = unknown> extends CommitHooks<Made, Mark> {
  /** Last statements inside the transaction, after every op of the batch. */
  beforeCommit?(tx: pg.ClientBase): Promise<void>
  /**
   * Runs its `beforeCommit` after every other hook's, whatever the order they were added in: the
   * event log's, whose counter row lock is cluster-wide and must be held for nothing but the COMMIT.
   */
  readonly last?: boolean
}

interface Pending {
  op: PgOp<unknown>
  resolve: (v: unknown) => void
  reject: (e: unknown) => void
}

/**
 * SQLSTATE classes that are the storage's or the connection's, not the write's: the same write can
 * succeed later, so the caller gets a 503 with Retry-After (providers retry 5xx), never a 500.
 * 08 connection exception, 53 insufficient resources (53100 disk full), 57P0x shutdown/crash, 58 system
 * error, 25006 read-only transaction (a replica promoted away).
 */
const STORAGE_STATE = /^(08|53|57P0|58)|^25006$/
/** Conflicts with another transaction: rerun. */
const CONFLICT_STATE = /^(40001|40P01)$/
/** Reruns of one op that conflicted, each after a jittered wait (20 ms, 40 ms, … up to 1 s). */
const CONFLICT_ATTEMPTS = 8
/** What a caller is asked to wait when its write conflicted every time. */
const CONFLICT_RETRY_AFTER_S = 5

const sqlState = (e: unknown): string | undefined => (e as { code?: unknown })?.code as string | undefined

export function isPgStorageError(e: unknown): boolean {
  const s = sqlState(e)
  // A socket error before any answer has no SQLSTATE: the connection is gone.
  return (
    (s !== undefined && STORAGE_STATE.test(s)) ||
    /Connection terminated|not queryable|ECONNREFUSED|ECONNRESET|EPIPE/.test(String(e))
  )
}

export class PgWriter {
  private queue: Pending[] = []
  private running: Promise<void> | null = null
  private closed = false
  private hooks: PgCommitHooks[] = []
  stats = { batches: 0, ops: 0, failed: 0, retried: 0 }
  /** Told about each COMMIT (GET /metrics); PostgreSQL's COMMIT is its flush, so no sync is reported. */
  observer: WriterObserver | null = null
  /** Never set here: a PostgreSQL write that failed for the storage's reasons can succeed later. */
  readonly failed: Error | null = null
  /** The last write refused for the storage's or connection's reasons, until a COMMIT succeeds (/healthz). */
  refused: { error: string; since: number } | null = null

  /** The writer's own connection: made when first needed, made again after it broke. */
  private client: pg.Client | null = null

  constructor(private url: string) {}

  private async connection(): Promise<pg.Client> {
    if (this.client) return this.client
    const c = withCleanText(
      new pg.Client({ connectionString: this.url, application_name: 'radiator-writer', keepAlive: true })
    )
    c.on('error', () => {
      if (this.client === c) this.client = null
    })
    await c.connect()
    await c.query('SET synchronous_commit TO on')
    this.client = c
    return c
  }

  addHooks<Made, Mark>(h: PgCommitHooks<Made, Mark>): void {
    this.hooks.push(h as PgCommitHooks)
    // Stable: hooks marked `last` after the others, each group in the order added.
    this.hooks.sort((a, b) => Number(!!a.last) - Number(!!b.last))
  }

  write<T>(op: PgOp<T>): Promise<T> {
    if (this.closed) return Promise.reject(new WriterClosedError('the database is closing'))
    return new Promise<T>((resolve, reject) => {
      this.queue.push({ op: op as PgOp<unknown>, resolve: resolve as (v: unknown) => void, reject })
      if (!this.running) this.running = this.drainQueue()
    })
  }

  /** Commits batch after batch until the queue is empty. */
  private async drainQueue(): Promise<void> {
    // Let every request parsed in this turn queue first, as the SQLite writer's setImmediate does.
    await new Promise((r) => setImmediate(r))
    while (this.queue.length > 0) {
      const batch = this.queue
      this.queue = []
      await this.commitBatch(batch)
    }
    this.running = null
  }

  private async commitBatch(batch: Pending[]): Promise<void> {
    const results = await this.transaction(batch)
    if (results === 'rejected') return
    if (results) return this.settle(batch, results)
    // One op failed, or the batch conflicted with another instance's: each op in its own
    // transaction, so only the failing caller sees its error.
    this.stats.retried++
    for (const p of batch) {
      const r = await this.transaction([p], true)
      if (r && r !== 'rejected') this.settle([p], r)
    }
  }

  /**
   * Runs ops in one transaction. Returns their results; null when the batch must be retried op by op;
   * 'rejected' when its callers were given the error (the storage's, or with `alone` the op's own
   * after a conflict was retried a few times).
   */
  private async transaction(batch: Pending[], alone = false): Promise<unknown[] | null | 'rejected'> {
    for (let attempt = 0; ; attempt++) {
      const marks = this.hooks.map((h) => h.mark())
      const results: unknown[] = []
      let client: pg.Client | null = null
      try {
        client = await this.connection()
        await client.query('BEGIN')
        for (const p of batch) results.push(await p.op(client))
        for (const h of this.hooks) await h.beforeCommit?.(client)
        const t0 = performance.now()
        await client.query('COMMIT')
        this.observer?.committed(batch.length, (performance.now() - t0) / 1000)
        this.refused = null
        return results
      } catch (e) {
        await client?.query('ROLLBACK').catch(() => {})
        this.hooks.forEach((h, i) => h.rollback(marks[i]))
        if (isPgStorageError(e)) {
          // A broken connection is not reused: the next transaction makes a new one. Whether that
          // COMMIT happened is unknown, so the callers get a 503 and retry (deliveries are deduplicated).
          if (client && this.client === client) {
            this.client = null
            void client.end().catch(() => {})
          }
          this.stats.failed++
          this.refused ??= { error: (e as Error).message, since: Date.now() }
          for (const p of batch) p.reject(refusal(e))
          return 'rejected'
        }
        if (!alone) return null
        if (CONFLICT_STATE.test(sqlState(e) ?? '')) {
          // Another instance's batch holds what this op needs (and PostgreSQL took a second to say
          // so): wait a jittered moment, so two instances do not collide again in step, and rerun.
          if (attempt < CONFLICT_ATTEMPTS) {
            await new Promise((r) => setTimeout(r, Math.random() * Math.min(1000, 20 * 2 ** attempt)))
            continue
          }
          // Still conflicting: the write itself is fine, so the caller is told to retry (a
          // provider's redelivery is deduplicated), never given a 500.
          this.stats.failed++
          batch[0]!.reject(
            new AppError('UNAVAILABLE', 'the write kept conflicting with other instances’ writes; retry', undefined, {
              'retry-after': String(CONFLICT_RETRY_AFTER_S),
            })
          )
          return 'rejected'
        }
        this.stats.failed++
        batch[0]!.reject(e)
        return 'rejected'
      }
    }
  }

  private settle(batch: Pending[], results: unknown[]): void {
    this.stats.batches++
    this.stats.ops += batch.length
    for (const h of this.hooks) h.durable(h.committed())
    batch.forEach((p, i) => p.resolve(results[i]))
  }

  /** Resolves when everything queued so far is committed. */
  async drain(): Promise<void> {
    while (this.running) await this.running
  }

  /** Refuses new writes, then commits what is queued. */
  async close(): Promise<void> {
    this.closed = true
    await this.drain()
    const c = this.client
    this.client = null
    await c?.end().catch(() => {})
  }
}

function refusal(e: unknown): WriterClosedError {
  return new WriterClosedError(`the database can't be written right now: ${(e as Error).message}; retry later`)
}
