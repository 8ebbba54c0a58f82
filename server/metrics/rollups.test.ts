import { afterEach, describe, expect, it } from 'vitest'
import { rmSync } from 'node:fs'
import { join } from 'node:path'
import { openStore } from '../db/client.ts'
import { Writer } from '../db/writer.ts'
import { tempDir } from '../test/harness.ts'
import { addInto, bucketOf, MAX_BUCKETS } from './histogram.ts'
import { FIND_REPLACED } from '../db/metrics-statements.ts'
import { RawWrites } from './raw.ts'
import { registerHistogramFunctions } from '../db/sqlite-functions.ts'
import { ALL_PATHS, periodOf, Roller, type Gran } from './rollups.ts'
import { rate, type CollectEvent, type Device, type VitalName } from '../../contract/metrics.ts'

const T0 = Date.UTC(2026, 9, 3, 23, 58, 0) // close to midnight: minutes, hours and days all roll over
const cleanups: (() => Promise<void> | void)[] = []
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c()
})

function open() {
  const dir = tempDir()
  const store = openStore(join(dir, 'radiator.db'))
  registerHistogramFunctions(store.sqlite)
  const writer = new Writer(store.sqlite, store.syncWal)
  cleanups.push(async () => {
    await writer.close()
    store.close()
    rmSync(dir, { recursive: true, force: true })
  })
  return { sqlite: store.sqlite, writer }
}

interface Row {
  n: number
  good: number
  ni: number
  poor: number
  hist: Buffer | null
}

describe('rollups', () => {
  it('rolls a backlog in small id ranges: every page view and latest sample counted once, heartbeats skipped', async () => {
    const { sqlite, writer } = open()
    const roller = new Roller(sqlite, writer, 7) // batches far smaller than the backlog
    const raw = new RawWrites(sqlite, () => roller.rolledSamplesThrough())
    const devices: Device[] = ['mobile', 'desktop']

    // The reference: what each rollup row must hold, from the values last reported per id.
    const latest = new Map<string, { path: string; device: Device; at: number; value: number }>()
    const views: { path: string; device: Device; at: number }[] = []
    const write = (at: number, device: Device, events: CollectEvent[]) =>
      writer.write(() => raw.write({ site: 's.example', visitor: 'v', device, events, at }))

    for (let i = 0; i < 120; i++) {
      const at = T0 + i * 3_000 // six minutes across midnight
      const device = devices[i % 2]!
      const path = `/p${i % 3}`
      views.push({ path, device, at })
      const value = 20 + ((i * 61) % 700) // INP: reported again when it grows, as web-vitals does
      latest.set(`id${i}`, { path, device, at, value })
      await write(at, device, [
        { type: 'pageview', path },
        { type: 'heartbeat', path },
        { type: 'vital', path, name: 'INP', value, id: `id${i}` },
      ])
      // Every fifth id is reported again later; half of them after a rollup ran.
      if (i % 5 === 0) {
        if (i % 10 === 0) await roller.runOnce()
        const again = value + 300
        latest.get(`id${i}`)!.value = again
        await write(at + 60_000, device, [
          { type: 'vital', path: '/elsewhere', name: 'INP', value: again, id: `id${i}` },
        ])
      }
    }
    await roller.catchUp()

    const get = sqlite.prepare<[string, number, string, string, string], Row>(
      "SELECT n, good, ni, poor, hist FROM site_rollups WHERE site = 's.example' AND gran = ? AND period = ? AND path = ? AND metric = ? AND device = ?"
    )
    const expected = new Map<string, { n: number; good: number; ni: number; poor: number; hist: Map<number, number> }>()
    const bump = (gran: Gran, path: string, metric: string, device: string, at: number, value?: number) => {
      const key = [gran, periodOf(gran, at), path, metric, device].join('|')
      const e = expected.get(key) ?? { n: 0, good: 0, ni: 0, poor: 0, hist: new Map() }
      expected.set(key, e)
      e.n++
      if (value === undefined) return
      const r = rate('INP', value)
      if (r === 'good') e.good++
      else if (r === 'poor') e.poor++
      else e.ni++
      const b = bucketOf('INP', value)
      e.hist.set(b, (e.hist.get(b) ?? 0) + 1)
    }
    for (const gran of ['m', 'h', 'd'] as Gran[]) {
      for (const v of views) for (const p of [v.path, ALL_PATHS]) bump(gran, p, 'PV', v.device, v.at)
      for (const s of latest.values())
        for (const p of [s.path, ALL_PATHS]) bump(gran, p, 'INP', s.device, s.at, s.value)
    }
    expect(expected.size).toBeGreaterThan(60)
    for (const [key, e] of expected) {
      const [gran, period, path, metric, device] = key.split('|') as [string, string, string, string, string]
      const row = get.get(gran, Number(period), path, metric, device)
      expect(row, key).toBeDefined()
      expect({ n: row!.n, good: row!.good, ni: row!.ni, poor: row!.poor }, key).toEqual({
        n: e.n,
        good: e.good,
        ni: e.ni,
        poor: e.poor,
      })
      if (metric === 'PV') expect(row!.hist, key).toBeNull()
      else {
        const counts = new Int32Array(MAX_BUCKETS)
        addInto(counts, row!.hist)
        const hist = new Map([...counts.entries()].filter(([, c]) => c !== 0))
        expect(hist, key).toEqual(e.hist)
      }
    }
    // Nothing else: no row beyond the reference (a replaced sample never lands on its new path).
    const total = sqlite.prepare('SELECT count(*) AS n FROM site_rollups WHERE n != 0').get() as { n: number }
    expect(total.n).toBe(expected.size)
  })

  it('looks a repeated CLS or INP up through the partial id index; LCP, FCP and TTFB are never looked up', async () => {
    const { sqlite } = open()
    const plan = (name: string) =>
      (sqlite.prepare(`EXPLAIN QUERY PLAN ${FIND_REPLACED}`).all('v5-1', 's.example', name) as { detail: string }[])
        .map((r) => r.detail)
        .join('; ')
    expect(plan('CLS')).toContain('USING INDEX site_samples_vid_idx')
    const raw = new RawWrites(sqlite, () => Number.MAX_SAFE_INTEGER) // as if every row were rolled up
    const write = (name: VitalName, value: number) =>
      raw.write({
        site: 's.example',
        visitor: 'v',
        device: 'desktop',
        events: [{ type: 'vital', path: '/', name, value, id: `v5-${name}` }],
        at: T0,
      })
    for (const name of ['CLS', 'INP', 'LCP'] as const) {
      write(name, 1)
      write(name, 2)
    }
    const rows = sqlite.prepare('SELECT metric, value, prev FROM site_samples ORDER BY id').all()
    expect(rows).toEqual([
      { metric: 'CLS', value: 2, prev: 1 },
      { metric: 'INP', value: 2, prev: 1 },
      // web-vitals reports LCP once per id: a second report is a second sample.
      { metric: 'LCP', value: 1, prev: null },
      { metric: 'LCP', value: 2, prev: null },
    ])
  })
})
