import { describe, expect, it } from 'vitest'
import { ATTENTION_MIN_PX, COMPACT_MIN_PX, planWall } from './wall.ts'

const cells = (b: { cols: number; rows: number } | null) => (b ? b.cols * b.rows : 0)

describe('planWall', () => {
  it('fits 40 pipelines with 11 needing attention on a 1080p wall without paging, attention larger', () => {
    const w = planWall(1866, 990, 11, 29)
    expect(cells(w.top)).toBeGreaterThanOrEqual(11)
    expect(w.perPage).toBe(29)
    expect(cells(w.bottom)).toBeGreaterThanOrEqual(29)
    expect(w.top!.font).toBeGreaterThanOrEqual(ATTENTION_MIN_PX)
    expect(w.top!.font).toBeGreaterThan(w.bottom!.font)
    expect(w.top!.height + w.gap + w.bottom!.height).toBeLessThanOrEqual(990)
  })

  it('shows more, not bigger, on 4K: the rest become full tiles there', () => {
    const hd = planWall(1866, 990, 11, 29)
    const uhd = planWall(3786, 1980, 11, 29)
    expect(hd.bottom!.kind).toBe('compact')
    expect(uhd.bottom!.kind).toBe('full')
    expect(uhd.top!.font).toBeLessThan(hd.top!.font * 2)
  })

  it('grows a few tiles to fill the screen', () => {
    const w = planWall(1866, 990, 1, 2)
    expect(w.top!.font).toBeGreaterThan(40)
  })

  it('pages only the rest when even compact cells cannot fit, keeping every attention tile', () => {
    const w = planWall(1866, 990, 8, 400)
    expect(cells(w.top)).toBeGreaterThanOrEqual(8)
    expect(w.perPage).toBeLessThan(400)
    expect(w.perPage).toBeGreaterThan(0)
    expect(w.bottom!.font).toBe(COMPACT_MIN_PX)
    expect(w.top!.height + w.gap + w.bottom!.height).toBeLessThanOrEqual(990)
  })
})
