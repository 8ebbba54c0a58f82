/**
 * @module `createLive()`: owns the live connection and applies its events to one store — pipelines,
 * sites, custom metrics and deploy markers — provided to the views through context. Everything kept
 * is bounded: a TV runs for weeks.
 */
import { createContext, createSignal, onCleanup, useContext } from 'solid-js'
import { createStore, produce, reconcile } from 'solid-js/store'
import { LiveConnection, type ConnectionStatus, type Transport, type WireEvent } from './connection.ts'
import type {
  BuildFinishedEvent,
  BuildUpdatedEvent,
  Metric,
  PipelineTile,
  SiteRow,
  SiteSummary,
  VisitorsEvent,
} from '../types.ts'
import { announceAccess, announceControl, type ControlMessage } from '../access/session.ts'

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
}

export interface MetricLive extends Metric {
  key: string
  history: number[]
}

/** A finished build on a default branch: drawn as a marker on the site charts. */
export interface Deploy {
  buildId: string
  at: number
  project: string
  pipeline: string
  branch: string
  number: number | null
  status: string
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

const isObj = (v: unknown): v is Record<string, any> => typeof v === 'object' && v !== null

/** A snapshot collection as a list, whether sent as an array or as a map keyed by name; null if absent. */
function listOf<T>(v: unknown): T[] | null {
  if (Array.isArray(v)) return v as T[]
  if (isObj(v)) return Object.values(v) as T[]
  return null
}

function deployOf(tile: PipelineTile | undefined, build = tile?.latest): Deploy | null {
  if (!tile?.isDefaultBranch || !build?.finishedAt) return null
  if (build.status !== 'success' && build.status !== 'failure') return null
  const at = Date.parse(build.finishedAt)
  if (!Number.isFinite(at)) return null
  return {
    buildId: build.id,
    at,
    project: tile.project,
    pipeline: tile.pipeline,
    branch: tile.branch,
    number: build.number,
    status: build.status,
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
  ;(globalThis as any).__radiator = stats

  const offset = () => status()?.clockOffsetMs ?? 0
  const serverNow = () => Date.now() + offset()

  function addDeploys(list: Deploy[]) {
    const since = serverNow() - DEPLOY_WINDOW_MS
    const recent = list.filter((d) => d.at >= since)
    if (!recent.length) return
    setDeploys((prev) => {
      const seen = new Set(prev.map((d) => d.buildId))
      const fresh = recent.filter((d) => !seen.has(d.buildId))
      if (!fresh.length) return prev
      const all = [...prev.filter((d) => d.at >= since), ...fresh].sort((a, b) => a.at - b.at)
      return all.length > MAX_DEPLOYS ? all.slice(all.length - MAX_DEPLOYS) : all
    })
  }

  function applySnapshot(d: Record<string, unknown>) {
    const pipelines = listOf<PipelineTile>(d.pipelines)
    if (pipelines) {
      const map: Record<string, PipelineTile> = {}
      for (const t of pipelines) if (isObj(t) && typeof t.id === 'string') map[t.id] = t
      setState('pipelines', state.pipelines ? reconcile(map) : map)
      addDeploys(Object.values(map).map((t) => deployOf(t)).filter((x): x is Deploy => !!x))
    } else setState('pipelines', null)

    const sites = listOf<SiteRow>(d.sites)
    if (sites) {
      const map: Record<string, SiteLive> = {}
      for (const s of sites)
        if (isObj(s) && typeof s.site === 'string')
          map[s.site] = { site: s.site, live: s.live ?? 0, last5m: s.last5m ?? 0, summary: s.summary ?? null, at: serverNow() }
      setState('sites', state.sites ? reconcile(map) : map)
    } else setState('sites', null)

    const metrics = listOf<Metric>(d.metrics)
    if (metrics) {
      const map: Record<string, MetricLive> = {}
      for (const m of metrics) {
        if (!isObj(m) || typeof m.name !== 'string') continue
        const key = metricKey(m)
        const prev = state.metrics?.[key]
        const history = prev ? [...prev.history] : []
        if (!prev || prev.at !== m.at) history.push(m.value)
        map[key] = { ...m, key, history: history.slice(-METRIC_HISTORY) }
      }
      setState('metrics', state.metrics ? reconcile(map) : map)
    } else setState('metrics', null)
  }

  function applyMetric(m: Metric) {
    if (!isObj(m) || typeof m.name !== 'string' || typeof m.value !== 'number') return
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
          cur.history.push(m.value)
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
        s.metrics[key] = { name: m.name, value: m.value, unit: m.unit ?? null, tags: m.tags ?? null, at: m.at, key, history: [m.value] }
      })
    )
  }

  function onEvent(ev: WireEvent, replayed: boolean) {
    stats.events++
    stats.lastId = ev.id
    const d = ev.data
    switch (ev.type) {
      case 'snapshot': {
        const v = typeof d?.version === 'string' ? d.version : null
        const known = version()
        if (known && v && known !== v) return reloadForVersion(v)
        setVersion(v)
        if (isObj(d)) applySnapshot(d)
        return
      }
      case 'build.updated': {
        const e = d as BuildUpdatedEvent
        if (!isObj(e?.pipeline) || typeof e.pipeline.id !== 'string') return
        if (!state.pipelines) setState('pipelines', {})
        setState('pipelines', e.pipeline.id, reconcile(e.pipeline))
        return
      }
      case 'build.finished': {
        const e = d as BuildFinishedEvent
        if (!isObj(e?.pipeline) || typeof e.pipeline.id !== 'string') return
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
        const e = d as VisitorsEvent
        if (!isObj(e) || typeof e.site !== 'string') return
        if (!state.sites) setState('sites', {})
        if (state.sites![e.site]) setState('sites', e.site, { live: e.live ?? 0, last5m: e.last5m ?? 0, at: serverNow() })
        else setState('sites', e.site, { site: e.site, live: e.live ?? 0, last5m: e.last5m ?? 0, summary: null, at: serverNow() })
        return
      }
      case 'vitals': {
        const e = d as SiteSummary
        if (!isObj(e) || typeof e.site !== 'string') return
        if (!state.sites) setState('sites', {})
        if (state.sites![e.site]) {
          setState('sites', e.site, 'summary', reconcile(e))
          setState('sites', e.site, 'at', serverNow())
        } else
          setState('sites', e.site, {
            site: e.site,
            live: e.visitors?.live ?? 0,
            last5m: e.visitors?.last5m ?? 0,
            summary: e,
            at: serverNow(),
          })
        return
      }
      case 'metric':
        return applyMetric(d as Metric)
    }
  }

  const conn = new LiveConnection({
    base: location.origin + '/',
    transports: opts.transports,
    topics: opts.topics,
    onStatus: (s) => setStatus({ ...s }),
    onEvent,
    onControl: (data) => announceControl(data as ControlMessage),
    onAccessLost: announceAccess,
  })
  conn.start()
  onCleanup(() => conn.stop())

  return {
    state,
    /** Finished default-branch builds of the last two hours, oldest first (deploy markers). */
    deploys,
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
