/**
 * @module The one id sequence of the live stream, shared by persisted and transient events and
 * increasing across restarts. Ids are reserved in blocks: a high-water mark in `meta`
 * (`event_id_reserved`) says every id up to it may have been handed out.
 */
import type { Meta } from '../db/meta.ts'
import type { Writer } from '../db/writer.ts'

/** Ids reserved per `meta` write: one small write per this many events. */
const ID_BLOCK = 1000

export class EventSequence {
  private nextId: number
  private reservedThrough: number

  /** `maxStoredId`: the newest persisted event's id (0 when none). */
  constructor(
    private meta: Meta,
    maxStoredId: number,
    writer: Writer
  ) {
    // Ids handed out before a restart may have gone to transient events that were never stored,
    // so the sequence continues above everything that was reserved, not above what was persisted.
    this.nextId = Math.max(meta.getNumber('event_id_reserved'), maxStoredId) + 1
    this.reservedThrough = this.nextId - 1
    // A reservation made inside a writer op that rolls back is rolled back with it (the `meta` row
    // too), so the next id taken reserves again.
    writer.addHooks<undefined, number>({
      mark: () => this.reservedThrough,
      rollback: (mark) => {
        this.reservedThrough = mark
      },
      committed: () => undefined,
      durable: () => {},
      lost: () => {},
    })
  }

  /** The newest id handed out (before any is taken: the newest one of the previous run). */
  get last(): number {
    return this.nextId - 1
  }

  /**
   * The next id. When it starts a new block, the block is written to `meta` first, synchronously, on
   * the writer's connection. That write is safe outside the writer (server/db/writer.ts) because the
   * writer's transactions never span a turn of the event loop: BEGIN IMMEDIATE, the ops and COMMIT
   * run in one synchronous `flush`. So this write either runs inside a writer op (`hub.persist`: it
   * commits, is synced and sent with that op, or rolls back with it) or between two transactions,
   * where it is its own autocommit, once per ID_BLOCK transient events, and never inside another
   * op's transaction. As an autocommit it is not synced by itself (synchronous=NORMAL): a process
   * crash keeps it (the OS holds the WAL write) and the writer's next WAL sync makes it durable; a
   * power loss before that sync could lose it, and the restarted server would hand out this block's
   * ids again. A client resuming from such an id before the server reaches it again gets a reset
   * snapshot (its id is above the head); one that comes back later could miss events.
   */
  take(): number {
    if (this.nextId > this.reservedThrough) {
      this.reservedThrough = this.nextId + ID_BLOCK - 1
      this.meta.set('event_id_reserved', this.reservedThrough)
    }
    return this.nextId++
  }
}
