/**
 * @module `createLive()`: the live connection and what it says, provided to the views through context.
 * Each domain in web/src/live/ owns its slice of state, how the snapshot and its events apply to it
 * and its bounds (a TV runs for weeks): pipelines, sites, custom metrics, deploy markers. This module
 * routes every event to them; a new event type fails the type-check here until it is routed.
 */
import { createContext, createSignal, onCleanup, useContext } from 'solid-js'
import type { SnapshotData, StreamEvent } from '../../../contract/live.ts'
import { TRANSPORTS } from '../../../contract/vocabularies.ts'
import { announceAccess, announceControl } from '../access/session.ts'
import { createDeploys } from '../live/deploys.ts'
import { createMetrics, type MetricLive } from '../live/metrics.ts'
import { createPipelines } from '../live/pipelines.ts'
import { createSites, type SiteLive } from '../live/sites.ts'
import type { BuildFinishedEvent, PipelineTile } from '../types.ts'
import { type ConnectionStatus, LiveConnection, type Transport } from './connection.ts'

/** Replayed build events older than this are applied silently: no toast or sound for old news. */
export const NEWS_MAX_AGE_MS = 60_000

/** What the views read; each part is null while its capability has said nothing (absent from the snapshot). */
export interface LiveState {
  readonly pipelines: Record<string, PipelineTile> | null
  readonly sites: Record<string, SiteLive> | null
  readonly metrics: Record<string, MetricLive> | null
}

export type FinishedListener = (e: BuildFinishedEvent, news: boolean) => void

export interface LiveOptions {
  transports?: Transport[]
  topics?: string[]
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
  const offset = () => status()?.clockOffsetMs ?? 0
  const serverNow = () => Date.now() + offset()

  const pipelines = createPipelines()
  const sites = createSites(serverNow)
  const metrics = createMetrics()
  const deploys = createDeploys(serverNow, sites, pipelines)
  const state: LiveState = {
    get pipelines() {
      return pipelines.tiles
    },
    get sites() {
      return sites.all
    },
    get metrics() {
      return metrics.all
    },
  }

  const finishedListeners = new Set<FinishedListener>()
  const stats = { events: 0, lastId: 0 }
  ;(globalThis as { __radiator?: typeof stats }).__radiator = stats

  function snapshot(d: SnapshotData) {
    const known = version()
    if (known && known !== d.version) return reloadForVersion(d.version)
    setVersion(d.version)
    // A resume snapshot has no state: what we hold stays, and the replay that follows updates it.
    if (d.resumed) return
    // Sites first: they say which builds are deploys.
    sites.snapshot(d.sites)
    pipelines.snapshot(d.pipelines)
    if (d.pipelines) deploys.fromTiles(d.pipelines)
    metrics.snapshot(d.metrics)
    deploys.loadPast()
  }

  function buildFinished(e: BuildFinishedEvent, at: string, replayed: boolean) {
    pipelines.put(e.pipeline)
    deploys.fromBuild(e.pipeline, e.build)
    const t = Date.parse(at)
    const news = !replayed || (Number.isFinite(t) && serverNow() - t < NEWS_MAX_AGE_MS)
    for (const l of finishedListeners) l(e, news)
  }

  function onEvent(ev: StreamEvent, replayed: boolean) {
    stats.events++
    stats.lastId = ev.id
    switch (ev.type) {
      case 'snapshot':
        return snapshot(ev.data)
      case 'build.updated':
        return pipelines.put(ev.data.pipeline)
      case 'build.finished':
        return buildFinished(ev.data, ev.at, replayed)
      case 'visitors':
        return sites.visitors(ev.data)
      case 'vitals':
        return sites.vitals(ev.data)
      case 'metric':
        return metrics.point(ev.data)
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
    /** The deploys of one site: none when nothing is mapped to it. */
    deploysOf: deploys.of,
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
  const list = p.split(',').filter((t): t is Transport => (TRANSPORTS as readonly string[]).includes(t))
  return list.length ? list : undefined
}
