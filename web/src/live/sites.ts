/**
 * @module The sites the server collects for: live visitors (`visitors`), the 24 h summary (`vitals`),
 * which pipelines deploy each (from the snapshot) and its place in the server's SITES list. As many
 * as the server publishes: one per site in SITES.
 */
import { createStore, reconcile } from 'solid-js/store'
import type { DeploySource } from './deploys.ts'
import type { SiteRow, SiteSummary, VisitorsEvent } from '../types.ts'

export interface SiteLive {
  site: string
  live: number
  last5m: number
  summary: SiteSummary | null
  /** Server time (ms) this site's figures last arrived. */
  at: number
  /**
   * Server time (ms) its summary last arrived (null: none yet). The summary itself is updated in
   * place, so this is what changes with every `vitals` event.
   */
  summaryAt: number | null
  /** The pipelines that deploy it (SITE_DEPLOYS); null when the server has not said. */
  deploys: DeploySource[] | null
  /** Its place in the server's SITES list: cards keep their places whatever the figures do. */
  order: number
}

/** `now` is the server's clock: a site's `at` says when the server sent its figures. */
export function createSites(now: () => number) {
  /** `sites` is null while the site-metrics capability has said nothing (absent from the snapshot). */
  const [state, setState] = createStore<{ sites: Record<string, SiteLive> | null }>({ sites: null })
  /** A site the last snapshot did not list: placed after those it did. */
  const unlisted = (site: string, live: number, last5m: number, summary: SiteSummary | null): SiteLive => ({
    site,
    live,
    last5m,
    summary,
    at: now(),
    summaryAt: summary ? now() : null,
    deploys: null,
    order: Infinity,
  })
  return {
    get all() {
      return state.sites
    },
    snapshot(entries: SiteRow[] | undefined) {
      if (!entries) return setState('sites', null)
      const map: Record<string, SiteLive> = {}
      entries.forEach((s, order) => {
        map[s.site] = {
          site: s.site,
          live: s.live,
          last5m: s.last5m,
          summary: s.summary,
          at: now(),
          summaryAt: s.summary ? now() : null,
          deploys: s.deploys,
          order,
        }
      })
      setState('sites', state.sites ? reconcile(map) : map)
    },
    visitors(e: VisitorsEvent) {
      if (!state.sites) setState('sites', {})
      if (state.sites![e.site]) setState('sites', e.site, { live: e.live, last5m: e.last5m, at: now() })
      else setState('sites', e.site, unlisted(e.site, e.live, e.last5m, null))
    },
    vitals(e: SiteSummary) {
      if (!state.sites) setState('sites', {})
      if (state.sites![e.site]) {
        setState('sites', e.site, 'summary', reconcile(e))
        setState('sites', e.site, { at: now(), summaryAt: now() })
      } else setState('sites', e.site, unlisted(e.site, e.visitors.live, e.visitors.last5m, e))
    },
  }
}

export type Sites = ReturnType<typeof createSites>
