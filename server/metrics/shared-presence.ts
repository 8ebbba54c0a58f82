/**
 * @module Presence shared by the instances of a cluster (issue 17). One visitor's beacons may land on
 * different instances, and every instance answers summaries and snapshots, so each keeps the whole
 * cluster's presence map: what it records itself it also announces on the bus, gathered for
 * `everyMs` (one message per ~250 ms, not per beacon), and what the others announce it records as if
 * the beacons had come to it. Presence takes a visitor's newest times (max), so a visitor seen on two
 * instances is one visitor, counted once, wherever the count is taken.
 *
 * At most once: a lost announcement leaves a visitor out of the other instances' counts until the
 * next catch-up from the table (PresenceCatchUp, every 10 s) or their next beacon; nothing stored
 * depends on it. An instance starting
 * rebuilds the last hour from site_hits first and takes announcements only after that (those sent
 * before were of rows already committed, so the rebuild has them).
 */
import type pg from 'pg'
import type { Bus } from '../cluster/bus.ts'
import type { Device, HitKind } from '../../contract/metrics.ts'
import type { Presence } from './presence.ts'

const TOPIC = 'presence'
export const PRESENCE_SHARE_EVERY_MS = 250

/** One recorded hit on the wire: [site, visitor, device, kind, at]. */
type Ping = [string, string, Device, HitKind, number]

export class PresenceShare {
  private pending: Ping[] = []
  private timer: NodeJS.Timeout | null = null
  private listening = false
  private unlisten: () => void

  constructor(
    private presence: Presence,
    private bus: Bus,
    /** Sites another instance's announcement changed (live pushes). */
    private onRemote: (sites: Set<string>) => void,
    private everyMs = PRESENCE_SHARE_EVERY_MS
  ) {
    this.unlisten = bus.listen(TOPIC, (data, from) => {
      if (from === bus.instance || !this.listening) return
      const sites = new Set<string>()
      for (const [site, visitor, device, kind, at] of data as Ping[]) {
        this.presence.record(site, visitor, device, kind, at)
        sites.add(site)
      }
      this.onRemote(sites)
    })
  }

  /** Takes other instances' announcements from now on (after the start-up rebuild). */
  start(): void {
    this.listening = true
  }

  knows(site: string, visitor: string): boolean {
    return this.presence.knows(site, visitor)
  }

  record(site: string, visitor: string, device: Device, kind: HitKind, at: number): void {
    this.presence.record(site, visitor, device, kind, at)
    this.pending.push([site, visitor, device, kind, at])
    if (this.timer) return
    this.timer = setTimeout(() => this.flush(), this.everyMs)
    this.timer.unref()
  }

  /** Announces what was recorded since the last announcement. */
  flush(): void {
    if (this.timer) clearTimeout(this.timer)
    this.timer = null
    if (this.pending.length === 0) return
    const pings = this.pending
    this.pending = []
    this.bus.announce(TOPIC, pings)
  }

  stop(): void {
    this.flush()
    this.unlisten()
  }
}

/** Rebuilds presence from the hits of the last hour, as loadPresence does on SQLite; returns the newest id read. */
export async function loadPresenceFrom(pool: pg.Pool, presence: Presence): Promise<number> {
  const { rows } = await pool.query(
    'SELECT id::float8 AS id, site, visitor, device, kind, at::float8 AS at FROM site_hits WHERE at >= $1 ORDER BY id',
    [presence.rebuildFrom()]
  )
  let last = 0
  for (const r of rows) {
    presence.record(r.site, r.visitor, r.device, r.kind, r.at)
    last = r.id
  }
  return last
}

/** Ids read again by each catch-up: a row committed a moment after a higher id is not missed. */
const CATCH_UP_OVERLAP = 2000
const CATCH_UP_ROWS = 50_000
export const CATCH_UP_EVERY_MS = 10_000

/**
 * Presence from the rows themselves, every CATCH_UP_EVERY_MS: what the bus lost (an instance killed
 * between its COMMIT and its announcement, a NATS hiccup) is counted within seconds, not only at the
 * visitor's next beacon. Each row is taken as the visitor being seen then (or leaving), which can be
 * applied any number of times and in any order (presence keeps the newest times), so rows already
 * announced, or read twice by the overlap, change nothing; page views are not counted again.
 */
export class PresenceCatchUp {
  constructor(
    private pool: pg.Pool,
    private presence: Presence,
    /** Ids up to here were read (loadPresenceFrom's answer at start). */
    private after: number
  ) {}

  async run(): Promise<number> {
    const { rows } = await this.pool.query(
      `SELECT id::float8 AS id, site, visitor, device, kind, at::float8 AS at FROM site_hits
        WHERE id > $1 AND at >= $2 ORDER BY id LIMIT ${CATCH_UP_ROWS}`,
      [Math.max(0, this.after - CATCH_UP_OVERLAP), this.presence.rebuildFrom()]
    )
    for (const r of rows) {
      this.presence.record(r.site, r.visitor, r.device, r.kind === 'leave' ? 'leave' : 'heartbeat', r.at)
      this.after = Math.max(this.after, r.id)
    }
    return rows.length
  }
}
