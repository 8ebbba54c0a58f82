import { mkdtempSync, rmSync, utimesSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterEach, beforeEach, describe, expect, it } from 'vitest'
import { report, summaryTable } from './suite.ts'

describe("the suite's summary of a part", () => {
  let dir: string
  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), 'radiator-suite-'))
  })
  afterEach(() => rmSync(dir, { recursive: true, force: true }))

  const memory = (results: object[]) =>
    writeFileSync(join(dir, 'memory.json'), JSON.stringify({ before: {}, after: {}, results }))

  it('takes the figures from the JSON the part wrote and marks each target', () => {
    const since = Date.now() - 1000
    memory([
      { transport: 'ws', perClientKb: 24.5, ok: true },
      { transport: 'poll', perClientKb: 31.2, ok: true },
    ])
    const r = report('memory', since, 42, 'table', undefined, dir)
    expect(r.status).toBe('ok')
    expect(r.figures).toEqual([
      { name: 'RSS KB per idle ws client', value: 24.5, target: '≤ 30', met: true },
      { name: 'RSS KB per idle poll client', value: 31.2, target: '≤ 30', met: false },
    ])
    const table = summaryTable([r])
    expect(table).toContain('| memory | 42 | RSS KB per idle ws client | 24.5 | ≤ 30: met | passed |')
    expect(table).toContain('| ≤ 30: NOT MET |')
  })

  it('fails the part when its own check in the JSON failed, even though it returned', () => {
    memory([{ transport: 'sse', perClientKb: 20, ok: false }])
    const r = report('memory', Date.now() - 1000, 1, 'table', undefined, dir)
    expect(r.status).toBe('failed')
    expect(r.check).toBe('sse: a client has no snapshot')
  })

  it('does not read a JSON left by an earlier run', () => {
    memory([{ transport: 'ws', perClientKb: 24.5, ok: true }])
    const old = new Date(Date.now() - 3_600_000)
    utimesSync(join(dir, 'memory.json'), old, old)
    const r = report('memory', Date.now() - 1000, 1, 'table', undefined, dir)
    expect(r.figures).toEqual([])
    expect(r.json).toBeNull()
  })

  it('reports a part that threw as failed with the last line of its error, and a skipped one as skipped', () => {
    const failed = report('queries', Date.now(), 3, '', new Error('table\nqueries: summary 28d all: answered 500'), dir)
    expect(failed.status).toBe('failed')
    expect(failed.check).toBe('queries: summary 28d all: answered 500')
    const skipped = report('ingest', Date.now(), 0, '\ningest: skipped, wrk is not installed', undefined, dir)
    expect(skipped.status).toBe('skipped')
  })

  it("reads collect's figures from its printed lines (it writes no JSON)", () => {
    const text = [
      'Radiator /api/collect: page view (vs 1st)              712  0.81×     0.83×   371 µs  0.70×     26.2  1/2  every 202 stored',
      'Radiator /api/collect: 3 vitals + leave (vs 3rd)       787  0.44×     0.45×   371 µs  0.70×     26.2  1/2  every 202 stored',
      'best durable beacons/s: 16,400 (rows counted after every slice)',
    ].join('\n')
    const r = report('collect', Date.now(), 1, text, undefined, dir)
    expect(r.figures.map((f) => [f.name, f.value, f.met])).toEqual([
      ['best durable beacons/s', 16400, undefined],
      ['page view ÷ bare Hono', 0.81, true],
      ['vitals flush ÷ bare Hono', 0.44, undefined],
    ])
    expect(report('collect', Date.now(), 1, `${text}\nROW COUNT MISMATCH`, undefined, dir).status).toBe('failed')
  })
})
