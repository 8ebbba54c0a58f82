/**
 * @module What a resuming client is sent: every event after its resume point, from the in-memory
 * ring of the newest frames, or, from further back, from the stored events a page at a time with the
 * latest transient value per key that falls in the same range.
 */
import type { Frame } from './frame.ts'
import { matches, type Topics } from './topics.ts'

/**
 * Where events older than the ring come from: the stored events on SQLite (synchronous), or the
 * cluster's JetStream stream (a promise; null when the stream no longer holds that range).
 */
export interface ReplaySource {
  /** Events with ids up to this are gone: a resume from before it is a reset. */
  readonly trimmedThrough: number
  /** Up to `limit` events with `after` < id ≤ `through`, in id order. */
  page(after: number, through: number, limit: number): Frame[] | null | Promise<Frame[] | null>
}

/**
 * What one answer or one burst of a resume may carry: a resume from far back (or from the start of
 * a 10,000-event buffer) is sent page by page — each page waits for the client to take the
 * previous one — so one request never makes the server build or hold more than this.
 */
export const REPLAY_PAGE_EVENTS = 500
export const REPLAY_PAGE_BYTES = 256 * 1024

export interface ReplayPage {
  frames: Frame[]
  /** The id the page scanned through: the next page starts after it. */
  through: number
}

export class Replay {
  private ring: Frame[] = []
  /** Every event with id > ringFloor is in `ring`. */
  private ringFloor: number
  /** The newest transient frame per key: transient events are not stored, only their latest value. */
  private latestTransient = new Map<string, Frame>()
  /** The id of the newest frame sent to clients: the snapshot's head and the resume limit. */
  private sentThrough: number

  /** `head`: the newest id of the previous run (nothing after it is in memory yet). */
  constructor(
    readonly source: ReplaySource,
    private capacity: number,
    head: number
  ) {
    this.ringFloor = head
    this.sentThrough = head
  }

  get head(): number {
    return this.sentThrough
  }

  /** Events held in memory for resuming clients. */
  get depth(): number {
    return this.ring.length
  }

  /** Records a frame as sent to clients (in id order), dropping the oldest past the ring's capacity. */
  sent(frame: Frame): void {
    this.sentThrough = frame.event.id
    this.ring.push(frame)
    if (this.ring.length > this.capacity) {
      const dropped = this.ring.splice(0, this.ring.length - this.capacity)
      this.ringFloor = dropped[dropped.length - 1]!.event.id
    }
  }

  /** Keeps `frame` as the value of `key` for clients resuming from before the ring. */
  keepLatest(key: string, frame: Frame): void {
    this.latestTransient.set(key, frame)
  }

  /** Whether a client at `since` can be brought up to date by replay (not trimmed, an id we issued). */
  resumable(since: number): boolean {
    return since <= this.head && since >= this.source.trimmedThrough
  }

  /**
   * One page of what a client resuming after `since` must receive: at most `maxEvents` events or
   * `maxBytes` bytes (at least one event). Null when resuming from `since` is no longer possible
   * (trimmed, or an id this server never issued): the client then gets a reset snapshot. The client
   * is caught up when `through` reaches the head.
   */
  page(
    since: number,
    topics: Topics,
    maxEvents = REPLAY_PAGE_EVENTS,
    maxBytes = REPLAY_PAGE_BYTES
  ): ReplayPage | null | Promise<ReplayPage | null> {
    if (!this.resumable(since)) return null
    const frames: Frame[] = []
    let bytes = 0
    let through = since
    /** Adds a frame the client wants; false once the page is full. */
    const take = (f: Frame): boolean => {
      through = f.event.id
      if (matches(topics, f.event.type)) {
        frames.push(f)
        bytes += f.bytes
      }
      return frames.length < maxEvents && bytes < maxBytes
    }
    if (since < this.ringFloor) {
      // Older than the in-memory ring: persisted events from SQLite (or the cluster's stream), a
      // page at a time (a bounded read, so a far resume never holds the event loop for long), plus
      // the latest transient values that fall in the same range.
      const floor = this.ringFloor
      const older = (page: Frame[] | null): ReplayPage | null => {
        if (page === null) return null
        const scanned = page.length < maxEvents ? floor : page[page.length - 1]!.event.id
        for (const f of this.latestTransient.values()) if (f.event.id > since && f.event.id <= scanned) page.push(f)
        page.sort((a, b) => a.event.id - b.event.id)
        for (const f of page) if (!take(f)) return { frames, through }
        return { frames, through: scanned }
      }
      const page = this.source.page(since, floor, maxEvents)
      return page instanceof Promise ? page.then(older) : older(page)
    }
    for (let i = this.firstAfter(since); i < this.ring.length; i++) if (!take(this.ring[i]!)) return { frames, through }
    // The ring holds every frame up to the head.
    return { frames, through: Math.max(through, this.sentThrough) }
  }

  /** Every frame a client resuming after `since` must receive, unpaged (tests; small ranges). */
  since(since: number, topics: Topics): Frame[] | null {
    const out: Frame[] = []
    for (let at = since; ; ) {
      const page = this.page(at, topics)
      // From before the ring in a cluster (a read of the stream): not a synchronous answer. The
      // long poll's last look is within the ring unless the ring turned over during one await.
      if (page instanceof Promise) return null
      if (!page) return out.length ? out : null
      out.push(...page.frames)
      if (page.through >= this.head || page.through === at) return out
      at = page.through
    }
  }

  private firstAfter(id: number): number {
    let lo = 0
    let hi = this.ring.length
    while (lo < hi) {
      const mid = (lo + hi) >>> 1
      if (this.ring[mid]!.event.id <= id) lo = mid + 1
      else hi = mid
    }
    return lo
  }
}
