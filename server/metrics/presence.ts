/**
 * @module Who is on each site now, in memory so counting never scans the hits table (it is rebuilt
 * from the last hour of hits at start). `live`: a page view or heartbeat within 45 s and no leave
 * since (the snippet beats every 30 s while visible). `last5m`: any page view or heartbeat in the
 * last 5 minutes, Plausible's "current visitors". Also the per-minute series of the last hour.
 */
import { asc, gte } from 'drizzle-orm'
import type { Db } from '../db/client.ts'
import { siteHits } from '../db/schema.ts'
import type { Device, HitKind, Summary } from '../../contract/metrics.ts'

export const LIVE_MS = 45_000
export const RECENT_MS = 5 * 60_000
/** Visitors are remembered this long so a visit across midnight can keep its id. */
const REMEMBER_MS = 60 * 60_000
export const SERIES_MINUTES = 60
const MINUTE = 60_000

interface VisitorState {
  seen: number
  left: number
  device: Device
}

interface Minute {
  visitors: Map<string, Device>
  pageviews: Record<Device, number>
}

interface SitePresence {
  visitors: Map<string, VisitorState>
  minutes: Map<number, Minute>
}

/** The wire shapes these figures go out in (a summary's `visitors` and `series`). */
type VisitorCounts = Summary['visitors']
type SeriesPoint = Summary['series'][number]

export class Presence {
  private sites = new Map<string, SitePresence>()

  constructor(private now: () => number) {}

  private site(site: string): SitePresence {
    let s = this.sites.get(site)
    if (!s) this.sites.set(site, (s = { visitors: new Map(), minutes: new Map() }))
    return s
  }

  record(site: string, visitor: string, device: Device, kind: HitKind, at: number): void {
    const s = this.site(site)
    let v = s.visitors.get(visitor)
    if (!v) s.visitors.set(visitor, (v = { seen: 0, left: 0, device }))
    v.device = device
    if (kind === 'leave') {
      v.left = Math.max(v.left, at)
      return
    }
    v.seen = Math.max(v.seen, at)
    // A page view or heartbeat after a leave (even in the same millisecond, as on an SPA
    // navigation that hides one view and shows the next) means the visitor is back.
    if (at >= v.left) v.left = 0
    const t = at - (at % MINUTE)
    let m = s.minutes.get(t)
    if (!m) s.minutes.set(t, (m = { visitors: new Map(), pageviews: { mobile: 0, tablet: 0, desktop: 0 } }))
    m.visitors.set(visitor, device)
    if (kind === 'pageview') m.pageviews[device]++
  }

  /** True when `visitor` was seen on `site` within the last hour. */
  knows(site: string, visitor: string): boolean {
    const v = this.sites.get(site)?.visitors.get(visitor)
    return !!v && v.seen >= this.now() - REMEMBER_MS
  }

  counts(site: string, device?: Device): VisitorCounts {
    const s = this.sites.get(site)
    const now = this.now()
    let live = 0
    let last5m = 0
    if (s)
      for (const v of s.visitors.values()) {
        if (device && v.device !== device) continue
        if (v.seen >= now - RECENT_MS) last5m++
        if (v.seen >= now - LIVE_MS && v.left < v.seen) live++
      }
    return { live, last5m }
  }

  /** Distinct visitors and page views per minute, oldest first, ending with the current minute. */
  series(site: string, device?: Device): SeriesPoint[] {
    const s = this.sites.get(site)
    const end = this.now() - (this.now() % MINUTE)
    const out: SeriesPoint[] = []
    for (let t = end - (SERIES_MINUTES - 1) * MINUTE; t <= end; t += MINUTE) {
      const m = s?.minutes.get(t)
      let visitors = 0
      let pageviews = 0
      if (m) {
        if (!device) {
          visitors = m.visitors.size
          pageviews = m.pageviews.mobile + m.pageviews.tablet + m.pageviews.desktop
        } else {
          for (const d of m.visitors.values()) if (d === device) visitors++
          pageviews = m.pageviews[device]
        }
      }
      out.push({ t: new Date(t).toISOString(), visitors, pageviews })
    }
    return out
  }

  /** Forgets visitors and minutes too old to matter; run periodically. */
  prune(): void {
    const now = this.now()
    const oldestMinute = now - (now % MINUTE) - SERIES_MINUTES * MINUTE
    for (const s of this.sites.values()) {
      for (const [id, v] of s.visitors)
        if (v.seen < now - REMEMBER_MS && v.left < now - REMEMBER_MS) s.visitors.delete(id)
      for (const t of s.minutes.keys()) if (t < oldestMinute) s.minutes.delete(t)
    }
  }

  /** Oldest hit time needed to rebuild this state after a restart. */
  rebuildFrom(): number {
    return this.now() - REMEMBER_MS
  }
}

/** Rebuilds presence from the hits of the last hour (at start, before any beacon is taken). */
export function loadPresence(db: Db, presence: Presence): number {
  const rows = db
    .select()
    .from(siteHits)
    .where(gte(siteHits.at, presence.rebuildFrom()))
    .orderBy(asc(siteHits.id))
    .all()
  for (const r of rows) presence.record(r.site, r.visitor, r.device, r.kind, r.at)
  return rows.length
}
