import { describe, expect, it } from 'vitest'
import { periodsOf, slidingFrom } from './windows.ts'

const NOW = Date.UTC(2026, 8, 15, 10, 30, 15)
const iso = (t: number) => new Date(t).toISOString()

describe('windows', () => {
  it('reads 24h as the current hour and the 23 before it for a summary', () => {
    const w = periodsOf('24h', NOW)
    expect({ ...w, from: iso(w.from) }).toEqual({ gran: 'h', count: 24, from: '2026-09-14T11:00:00.000Z' })
  })

  it('reads 24h as the last 24 hours to the millisecond for a series', () => {
    expect(iso(slidingFrom('24h', NOW))).toBe('2026-09-14T10:30:15.000Z')
  })

  it('counts 7d and 28d in UTC days including today, and 5m and 1h in minutes', () => {
    expect(iso(periodsOf('7d', NOW).from)).toBe('2026-09-09T00:00:00.000Z')
    expect(iso(periodsOf('28d', NOW).from)).toBe('2026-08-19T00:00:00.000Z')
    expect(iso(periodsOf('5m', NOW).from)).toBe('2026-09-15T10:26:00.000Z')
    expect(iso(periodsOf('1h', NOW).from)).toBe('2026-09-15T09:31:00.000Z')
    expect(iso(slidingFrom('5m', NOW))).toBe('2026-09-15T10:25:15.000Z')
  })
})
