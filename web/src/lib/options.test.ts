import { describe, expect, it } from 'vitest'
import { flag, inQuietHours, parseDuration, parseQuiet, parseRotate } from './options.ts'
import { gridFor } from './pager.ts'

describe('URL display options', () => {
  it('reads durations as s, m, h, ms or bare seconds', () => {
    expect(parseDuration('30s')).toBe(30_000)
    expect(parseDuration('2m')).toBe(120_000)
    expect(parseDuration('1h')).toBe(3_600_000)
    expect(parseDuration('1500ms')).toBe(1500)
    expect(parseDuration('45')).toBe(45_000)
    expect(parseDuration('soon')).toBeNull()
    expect(parseDuration('0s')).toBeNull()
  })

  it('keeps quiet hours across midnight', () => {
    const q = parseQuiet('22:00-07:00')
    expect(q).toEqual({ from: 22 * 60, to: 7 * 60 })
    const at = (h: number, m = 0) => new Date(2026, 0, 1, h, m)
    expect(inQuietHours(q, at(23, 30))).toBe(true)
    expect(inQuietHours(q, at(3))).toBe(true)
    expect(inQuietHours(q, at(7))).toBe(false)
    expect(inQuietHours(q, at(12))).toBe(false)
    expect(inQuietHours(parseQuiet('12:00-13:00'), at(12, 30))).toBe(true)
    expect(parseQuiet('25:00-07:00')).toBeNull()
  })

  it('accepts ?tv, ?tv=1 and refuses ?tv=0', () => {
    expect(flag(new URLSearchParams('tv'), 'tv')).toBe(true)
    expect(flag(new URLSearchParams('tv=1'), 'tv')).toBe(true)
    expect(flag(new URLSearchParams('tv=0'), 'tv')).toBe(false)
    expect(flag(new URLSearchParams(''), 'tv')).toBe(false)
  })

  it('rotates only through views that exist', () => {
    expect(parseRotate('builds, sites,nope,site:shop.example.com')).toEqual([
      'builds',
      'sites',
      'site:shop.example.com',
    ])
  })
})

describe('TV grid', () => {
  it('uses the smallest readable grid, then pages at 20 tiles', () => {
    expect(gridFor(1)).toEqual({ cols: 1, rows: 1 })
    expect(gridFor(5)).toEqual({ cols: 3, rows: 2 })
    expect(gridFor(12)).toEqual({ cols: 4, rows: 3 })
    expect(gridFor(40)).toEqual({ cols: 5, rows: 4 })
    expect(gridFor(40, true)).toEqual({ cols: 4, rows: 5 })
    expect(gridFor(40, false, 6)).toEqual({ cols: 3, rows: 2 })
  })
})
