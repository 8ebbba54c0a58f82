/**
 * @module What the metrics capability puts on the live channel: `visitors` {site, live, last5m} at
 * most once per site per second and `vitals` (the 24h summary) at most every 10 s per site, each
 * only when it changed; and the snapshot's `sites` list. Both are transient (latest per key).
 */
import type { Job } from '../jobs/scheduler.ts'
import type { Hub } from '../live/hub.ts'
import { Coalescer } from './coalescer.ts'
import type { Presence } from './presence.ts'
import type { Sites } from './sites.ts'
import { type Device, LIVE_WINDOW, type SiteEntry, type Summary, type SummaryWindow } from '../../contract/metrics.ts'

/** Summaries.summary on SQLite (synchronous), PgSummaries.summary on PostgreSQL (a promise). */
export interface SummarySource {
  summary(site: string, window: SummaryWindow, device: Device | null): Summary | Promise<Summary>
}

export interface LivePushOptions {
  visitorsEveryMs: number
  vitalsEveryMs: number
  /** How often figures are re-checked without beacons (visitors age out of `live`). */
  sweepEveryMs: number
}

export const LIVE_PUSH_DEFAULTS: LivePushOptions = { visitorsEveryMs: 1000, vitalsEveryMs: 10_000, sweepEveryMs: 5000 }

export class LivePush {
  private lastVisitors = new Map<string, string>()
  private lastVitals = new Map<string, string>()
  private latestSummary = new Map<string, Summary>()
  /** Sites whose first summary is being read for the snapshot (PostgreSQL). */
  private firstReads = new Set<string>()
  private visitors: Coalescer
  private vitals: Coalescer

  constructor(
    private hub: Hub,
    private sites: Sites,
    private presence: Presence,
    private summaries: SummarySource,
    now: () => number,
    private opts: LivePushOptions,
    onError: (e: unknown) => void,
    /**
     * Whether this instance puts the figures on the live channel. In a cluster every instance keeps
     * the same figures (shared presence, one database) for its own snapshots, but only one publishes
     * them, or every screen would get each change once per instance (index.ts: the leader).
     */
    private publishing: () => boolean = () => true
  ) {
    this.visitors = new Coalescer(opts.visitorsEveryMs, now, (site) => this.pushVisitors(site), onError)
    this.vitals = new Coalescer(opts.vitalsEveryMs, now, (site) => this.pushVitals(site), onError)
  }

  private pushVisitors(site: string): void {
    if (!this.publishing()) return
    const data = { site, ...this.presence.counts(site) }
    const json = JSON.stringify(data)
    if (this.lastVisitors.get(site) === json) return
    this.lastVisitors.set(site, json)
    this.hub.publish('visitors', data, `visitors:${site}`)
  }

  private pushVitals(site: string): void | Promise<void> {
    const summary = this.summaries.summary(site, LIVE_WINDOW, null)
    if (summary instanceof Promise) return summary.then((s) => this.vitalsRead(site, s))
    this.vitalsRead(site, summary)
  }

  private vitalsRead(site: string, summary: Summary): void {
    this.latestSummary.set(site, summary)
    if (!this.publishing()) return
    const json = JSON.stringify(summary)
    if (this.lastVitals.get(site) === json) return
    this.lastVitals.set(site, json)
    this.hub.publish('vitals', summary, `vitals:${site}`)
  }

  /** Presence of `site` changed (a beacon was accepted). */
  visited(site: string): void {
    this.visitors.touch(site)
    this.vitals.touch(site)
  }

  /** New samples or page views were rolled up for these sites. */
  rolled(sites: Iterable<string>): void {
    for (const s of sites) if (this.sites.has(s)) this.vitals.touch(s)
  }

  /** The snapshot's `sites`, in SITES order: each site's figures now, its last 24h summary and its deploy pipelines. */
  snapshot(): SiteEntry[] {
    return this.sites.list.map((site) => {
      let summary = this.latestSummary.get(site) ?? null
      if (!summary && !this.firstReads.has(site)) {
        try {
          const read = this.summaries.summary(site, LIVE_WINDOW, null)
          // A snapshot is built synchronously: on PostgreSQL the first ones go out without a
          // summary while one read fills it in (the sweep keeps it fresh after that).
          if (read instanceof Promise) {
            this.firstReads.add(site)
            void read
              .then((s) => void (this.latestSummary.has(site) || this.latestSummary.set(site, s)))
              .catch(() => {})
              .finally(() => this.firstReads.delete(site))
          } else this.latestSummary.set(site, (summary = read))
        } catch {
          summary = null
        }
      }
      return { site, ...this.presence.counts(site), summary, deploys: this.sites.deploysOf(site) }
    })
  }

  /** The sweep job: re-checks every site's figures without beacons (visitors age out of `live`). */
  sweepJob(): Job {
    return {
      name: 'site figures sweep',
      every: this.opts.sweepEveryMs,
      run: () => {
        this.presence.prune()
        for (const s of this.sites.list) {
          this.visitors.touch(s)
          this.vitals.touch(s)
        }
      },
    }
  }

  /** Drops the pushes still waiting (shutdown). */
  stop(): void {
    this.visitors.stop()
    this.vitals.stop()
  }
}
