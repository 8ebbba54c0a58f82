/**
 * @module The order in which frames go out: a persisted event waits until its writer transaction's
 * COMMIT is durable (and is dropped if it rolls back or its sync fails), and a transient one published
 * meanwhile waits behind it, so clients always see ids increasing and never an event that a crash
 * could take back.
 */
import type { Writer } from '../db/writer.ts'
import type { Frame } from './frame.ts'

interface Entry {
  frame: Frame
  ready: boolean
}

export class Outbox {
  /** Persisted in the open transaction, not yet committed. */
  private pending: Frame[] = []
  /** Frames in id order waiting to go out; the first one not `ready` holds back the rest. */
  private queue: Entry[] = []

  constructor(
    writer: Writer,
    private release: (frame: Frame) => void
  ) {
    writer.addHooks<Entry[], number>({
      mark: () => this.pending.length,
      rollback: (mark) => {
        this.pending.length = mark
      },
      committed: () => {
        const entries = this.pending.map((frame) => ({ frame, ready: false }))
        this.pending = []
        this.queue.push(...entries)
        return entries
      },
      durable: (entries) => {
        for (const e of entries) e.ready = true
        this.flush()
      },
      lost: (entries) => {
        const gone = new Set(entries)
        this.queue = this.queue.filter((e) => !gone.has(e))
        this.flush()
      },
    })
  }

  /** A frame persisted in the open writer transaction: sent once its COMMIT is durable. */
  persisted(frame: Frame): void {
    this.pending.push(frame)
  }

  /** A frame that is not stored: sent now, unless persisted frames are still waiting before it. */
  transient(frame: Frame): void {
    if (this.queue.length === 0) this.release(frame)
    else this.queue.push({ frame, ready: true })
  }

  /** Sends the ready frames up to the first one still waiting for its sync. */
  private flush(): void {
    let n = 0
    while (n < this.queue.length && this.queue[n]!.ready) this.release(this.queue[n++]!.frame)
    if (n) this.queue.splice(0, n)
  }
}
