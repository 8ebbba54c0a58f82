/**
 * @module Custom metrics: the latest point of each (the snapshot) and every `metric` event since,
 * with a short history per metric for its chart. Bounded: at most MAX_METRICS metrics (the one
 * updated longest ago makes room) of METRIC_HISTORY points each.
 */
import { createStore, produce, reconcile } from 'solid-js/store'
import type { Metric } from '../types.ts'

export const MAX_METRICS = 100
export const METRIC_HISTORY = 60

export interface MetricLive extends Metric {
  key: string
  /** Values seen, oldest first, `t` in ms (the page adds the last hour from the API). */
  history: { t: number; v: number }[]
}

/** One tile per metric name, as the server keeps it (the latest point's tags are shown). */
export const metricKey = (m: Pick<Metric, 'name'>): string => m.name

export function createMetrics() {
  /** `metrics` is null while the server has said nothing about custom metrics (absent from the snapshot). */
  const [state, setState] = createStore<{ metrics: Record<string, MetricLive> | null }>({ metrics: null })
  return {
    get all() {
      return state.metrics
    },
    /** The latest points: a metric already shown keeps its history, and gains the point if it is new. */
    snapshot(points: Record<string, Metric> | undefined) {
      if (!points) return setState('metrics', null)
      const map: Record<string, MetricLive> = {}
      for (const m of Object.values(points)) {
        const key = metricKey(m)
        const prev = state.metrics?.[key]
        const history = prev ? [...prev.history] : []
        if (!prev || prev.at !== m.at) history.push({ t: Date.parse(m.at), v: m.value })
        map[key] = { ...m, key, history: history.slice(-METRIC_HISTORY) }
      }
      setState('metrics', state.metrics ? reconcile(map) : map)
    },
    point(m: Metric) {
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
    },
  }
}
