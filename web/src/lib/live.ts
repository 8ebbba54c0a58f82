/**
 * @module `createLive()`: owns the live connection and applies its events to one store — pipelines,
 * sites, custom metrics and deploy markers — provided to the views through context. Everything kept
 * is bounded: a TV runs for weeks.
 */
import { createContext, createSignal, onCleanup, useContext } from 'solid-js'
import { createStore, produce, reconcile } from 'solid-js/store'
import { LiveConnection, type ConnectionStatus, type Transport, type WireEvent } from './connection.ts'
import type { BuildFinishedEvent, Metric, PipelineTile, SiteSummary } from '../types.ts'
import type { SnapshotData } from '../../../contract/live.ts'
import { announceAccess, announceControl } from '../access/session.ts'
import { deploysAny, type Deploy, type DeploySource } from './deploys.ts'
import { api } from './api.ts'

export type { Deploy } from './deploys.ts'

export const MAX_METRICS = 100
export const METRIC_HISTORY = 60
export const MAX_DEPLOYS = 100
/** Deploy markers are drawn on charts of the last hour; older ones are dropped. */
export const DEPLOY_WINDOW_MS = 2 * 3_600_000
/** Replayed build events older than this are applied silently: no toast or sound for old news. */
export const NEWS_MAX_AGE_MS = 60_000

export interface SiteLive {
  site: string
  live: number
  last5m: number
  summary: SiteSummary | null
  /** Server time (ms) this site's figures last arrived. */
  at: number
  /** The pipelines that deploy it (SITE_DEPLOYS); null when the server has not said. */
  deploys: DeploySource[] | null
  /** Its place in the server's SITES list: cards keep their places whatever the figures do. */
  order: number
}

export interface MetricLive extends Metric {
  key: string
  /** Values seen, oldest first, `t` in ms (the page adds the last hour from the API). */
  history: { t: number; v: number }[]
}

export interface LiveState {
  /** null while the CI capability has said nothing (absent from the snapshot). */
  pipelines: Record<string, PipelineTile> | null
  sites: Record<string, SiteLive> | null
  metrics: Record<string, MetricLive> | null
}

export type FinishedListener = (e: BuildFinishedEvent, news: boolean) => void

export interface LiveOptions {
  transports?: Transport[]
  topics?: string[]
}

/** One tile per metric name, as the server keeps it (the latest point's tags are shown). */
export const metricKey = (m: Pick<Metric, 'name'>): string => m.name

function deployOf(tile: PipelineTile | undefined, build = tile?.latest): Deploy | null {
  if (!tile || !build?.finishedAt || build.status !== 'success') return null
  const at = Date.parse(build.finishedAt)
  if (!Number.isFinite(at)) return null
  return {
    buildId: build.id,
    at,
    project: tile.project,
    pipeline: tile.pipeline,
    branch: tile.branch,
    defaultBranch: tile.isDefaultBranch,
    number: build.number,
  }
}

/** Reloads once per new server version: a flapping proxy between two versions can't loop us. */
function reloadForVersion(v: string): void {
  const key = 'radiator.reloadedFor'
  try {
    if (sessionStorage.getItem(key) === v) return
    sessionStorage.setItem(key, v)
  } catch {
    /* storage blocked: reload anyway, the new page knows the version */
  }
  location.reload()
}

export function createLive(opts: LiveOptions = {}) {
  const [status, setStatus] = createSignal<ConnectionStatus | null>(null)
  const [version, setVersion] = createSignal<string | null>(null)
  const [state, setState] = createStore<LiveState>({ pipelines: null, sites: null, metrics: null })
  const [deploys, setDeploys] = createSignal<Deploy[]>([])
  const finishedListeners = new Set<FinishedListener>()
  const stats = { events: 0, lastId: 0 }
  ;(globalThis as { __radiator?: typeof stats }).__radiator = stats

  const offset = () => status()?.clockOffsetMs ?? 0
  const serverNow = () => Date.now() + offset()

  /** Keeps only builds some site is deployed by, so other builds can't crowd deploys out. */
  function addDeploys(list: Deploy[]) {
    const since = serverNow() - DEPLOY_WINDOW_MS
    const sites = Object.values(state.sites ?? {})
    const recent = list.filter((d) => d.at >= since && sites.some((s) => deploysAny(s?.deploys, d)))
    if (!recent.length) return
    setDeploys((prev) => {
      const seen = new Set(prev.map((d) => d.buildId))
      const fresh = recent.filter((d) => !seen.has(d.buildId))
      if (!fresh.length) return prev
      const all = [...prev.filter((d) => d.at >= since), ...fresh].sort((a, b) => a.at - b.at)
      return all.length > MAX_DEPLOYS ? all.slice(all.length - MAX_DEPLOYS) : all
    })
  }

  /** Deploys from before this connection: recent successful builds of every mapped pipeline. */
  function loadPastDeploys() {
    const seen = new Set<string>()
    const sources = Object.values(state.sites ?? {})
      .flatMap((s) => s?.deploys ?? [])
      .filter((src) => {
        const k = JSON.stringify(src)
        return !seen.has(k) && seen.add(k)
      })
    for (const src of sources)
      api
        .builds({ project: src.project, pipeline: src.pipeline, branch: src.branch, status: 'success', limit: 50 })
        .then((r) => {
          const tiles = Object.values(state.pipelines ?? {})
          addDeploys(
            r.builds
              .map((b) =>
                deployOf(
                  tiles.find(
                    (t) =>
                      t &&
                      t.provider === b.provider &&
                      t.project === b.project &&
                      t.pipeline === b.pipeline &&
                      t.branch === b.branch
                  ),
                  b
                )
              )
              .filter((x): x is Deploy => !!x)
          )
        })
        .catch(() => {})
  }

  function applySnapshot(d: SnapshotData) {
    // Sites first: they say which builds are deploys.
    const sites = d.sites
    if (sites) {
      const map: Record<string, SiteLive> = {}
      sites.forEach((s, order) => {
        map[s.site] = {
          site: s.site,
          live: s.live,
          last5m: s.last5m,
          summary: s.summary,
          at: serverNow(),
          deploys: s.deploys,
          order,
        }
      })
      setState('sites', state.sites ? reconcile(map) : map)
    } else setState('sites', null)

    const pipelines = d.pipelines
    if (pipelines) {
      const map: Record<string, PipelineTile> = {}
      for (const t of pipelines) map[t.id] = t
      setState('pipelines', state.pipelines ? reconcile(map) : map)
      addDeploys(
        Object.values(map)
          .map((t) => deployOf(t))
          .filter((x): x is Deploy => !!x)
      )
    } else setState('pipelines', null)

    const metrics = d.metrics
    if (metrics) {
      const map: Record<string, MetricLive> = {}
      for (const m of Object.values(metrics)) {
        const key = metricKey(m)
        const prev = state.metrics?.[key]
        const history = prev ? [...prev.history] : []
        if (!prev || prev.at !== m.at) history.push({ t: Date.parse(m.at), v: m.value })
        map[key] = { ...m, key, history: history.slice(-METRIC_HISTORY) }
      }
      setState('metrics', state.metrics ? reconcile(map) : map)
    } else setState('metrics', null)
  }

  function applyMetric(m: Metric) {
    const key = metricKey(m)
    setState(
      produce((s) => {
        s.metrics ??= {}
        const cur = s.metrics[key]
        if (cur) {
          cur.value = m.value
          cur.unit = m.unit ?? null
          cur.tags = m.tags ?? null
          cur.at = m.at
          cur.warn = m.warn
          cur.crit = m.crit
          cur.history.push({ t: Date.parse(m.at), v: m.value })
          if (cur.history.length > METRIC_HISTORY) cur.history.splice(0, cur.history.length - METRIC_HISTORY)
          return
        }
        const keys = Object.keys(s.metrics)
        if (keys.length >= MAX_METRICS) {
          // Evict the series updated longest ago.
          let oldest = keys[0]!
          for (const k of keys) if (s.metrics[k]!.at < s.metrics[oldest]!.at) oldest = k
          delete s.metrics[oldest]
        }
        s.metrics[key] = {
          name: m.name,
          value: m.value,
          unit: m.unit ?? null,
          tags: m.tags ?? null,
          at: m.at,
          warn: m.warn,
          crit: m.crit,
          key,
          history: [{ t: Date.parse(m.at), v: m.value }],
        }
      })
    )
  }

  function onEvent(ev: WireEvent, replayed: boolean) {
    stats.events++
    stats.lastId = ev.id
    switch (ev.type) {
      case 'snapshot': {
        const d = ev.data
        const known = version()
        if (known && known !== d.version) return reloadForVersion(d.version)
        setVersion(d.version)
        // A resume snapshot has no state: what we hold stays, and the replay that follows updates it.
        if (!d.resumed) {
          applySnapshot(d)
          loadPastDeploys()
        }
        return
      }
      case 'build.updated': {
        const e = ev.data
        if (!state.pipelines) setState('pipelines', {})
        setState('pipelines', e.pipeline.id, reconcile(e.pipeline))
        return
      }
      case 'build.finished': {
        const e = ev.data
        if (!state.pipelines) setState('pipelines', {})
        setState('pipelines', e.pipeline.id, reconcile(e.pipeline))
        const dep = deployOf(e.pipeline, e.build)
        if (dep) addDeploys([dep])
        const at = Date.parse(ev.at)
        const news = !replayed || (Number.isFinite(at) && serverNow() - at < NEWS_MAX_AGE_MS)
        for (const l of finishedListeners) l(e, news)
        return
      }
      case 'visitors': {
        const e = ev.data
        if (!state.sites) setState('sites', {})
        if (state.sites![e.site]) setState('sites', e.site, { live: e.live, last5m: e.last5m, at: serverNow() })
        else
          setState('sites', e.site, {
            site: e.site,
            live: e.live,
            last5m: e.last5m,
            summary: null,
            at: serverNow(),
            deploys: null,
            order: Infinity,
          })
        return
      }
      case 'vitals': {
        const e = ev.data
        if (!state.sites) setState('sites', {})
        if (state.sites![e.site]) {
          setState('sites', e.site, 'summary', reconcile(e))
          setState('sites', e.site, 'at', serverNow())
        } else
          setState('sites', e.site, {
            site: e.site,
            live: e.visitors.live,
            last5m: e.visitors.last5m,
            summary: e,
            at: serverNow(),
            deploys: null,
            order: Infinity,
          })
        return
      }
      case 'metric':
        return applyMetric(ev.data)
      default:
        // A type this page does not know fails the type-check here; at run time (a newer server
        // before this page reloads for its version) it is ignored.
        return ev satisfies never
    }
  }

  const conn = new LiveConnection({
    base: `${location.origin}/`,
    transports: opts.transports,
    topics: opts.topics,
    onStatus: (s) => setStatus({ ...s }),
    onEvent,
    onControl: announceControl,
    onAccessLost: announceAccess,
  })
  conn.start()
  onCleanup(() => conn.stop())

  return {
    state,
    /** Successful builds of the last two hours that deploy some site (SITE_DEPLOYS), oldest first. */
    deploys,
    /** The deploys of one site: none when nothing is mapped to it. */
    deploysOf: (site: string) => {
      const sources = state.sites?.[site]?.deploys
      return sources?.length ? deploys().filter((d) => deploysAny(sources, d)) : []
    },
    status,
    version,
    serverNow,
    offset,
    stale: () => status()?.staleSince != null,
    /** Listens for finished builds; `news` is false for replayed ones too old to announce. */
    onFinished(l: FinishedListener) {
      finishedListeners.add(l)
      onCleanup(() => finishedListeners.delete(l))
    },
  }
}

export type Live = ReturnType<typeof createLive>

export const LiveContext = createContext<Live>()

export function useLive(): Live {
  const l = useContext(LiveContext)
  if (!l) throw new Error('useLive() outside <LiveContext.Provider>')
  return l
}

export function transportsFromUrl(): Transport[] | undefined {
  const p = new URLSearchParams(location.search).get('transport')
  if (!p) return undefined
  const list = p.split(',').filter((t): t is Transport => t === 'ws' || t === 'sse' || t === 'poll')
  return list.length ? list : undefined
}
