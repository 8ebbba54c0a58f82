import { describe, expect, it } from 'vitest'
import type { Metric } from '../types.ts'
import { createMetrics, MAX_METRICS, METRIC_HISTORY } from './metrics.ts'

const at = (s: number) => new Date(Date.UTC(2030, 0, 1, 12, 0, s)).toISOString()
const point = (name: string, value: number, s: number, over: Partial<Metric> = {}): Metric => ({
  name,
  value,
  unit: null,
  tags: null,
  at: at(s),
  ...over,
})

describe('the custom metrics slice', () => {
  it('keeps a history per metric, oldest first, of at most METRIC_HISTORY points', () => {
    const m = createMetrics()
    for (let i = 0; i < METRIC_HISTORY + 5; i++) m.point(point('queue', i, i, { warn: 10 }))
    const q = m.all!.queue!
    expect(q.value).toBe(METRIC_HISTORY + 4)
    expect(q.warn).toBe(10)
    expect(q.history).toHaveLength(METRIC_HISTORY)
    expect(q.history[0]!.v).toBe(5)
    expect(q.history.at(-1)).toEqual({ t: Date.parse(at(METRIC_HISTORY + 4)), v: METRIC_HISTORY + 4 })
  })

  it('holds at most MAX_METRICS metrics: a new one evicts the one updated longest ago', () => {
    const m = createMetrics()
    for (let i = 0; i < MAX_METRICS; i++) m.point(point(`m${i}`, i, i + 1))
    m.point(point('m0', 0, 500)) // m0 is now the freshest; m1 the stalest
    m.point(point('new', 1, 600))
    expect(Object.keys(m.all!)).toHaveLength(MAX_METRICS)
    expect(m.all!.m1).toBeUndefined()
    expect(m.all!.m0).toBeDefined()
    expect(m.all!.new!.history).toEqual([{ t: Date.parse(at(600)), v: 1 }])
  })

  it('keeps the history of a metric across a snapshot, adding the point only when it is new', () => {
    const m = createMetrics()
    m.point(point('queue', 1, 1))
    m.point(point('queue', 2, 2))
    m.snapshot({ queue: point('queue', 2, 2), fresh: point('fresh', 7, 3) })
    expect(m.all!.queue!.history.map((p) => p.v)).toEqual([1, 2])
    expect(m.all!.fresh!.history.map((p) => p.v)).toEqual([7])
    m.snapshot({ queue: point('queue', 3, 4) })
    expect(m.all!.queue!.history.map((p) => p.v)).toEqual([1, 2, 3])
    expect(m.all!.fresh).toBeUndefined()
    m.snapshot(undefined)
    expect(m.all).toBeNull()
  })
})
