import { describe, expect, it } from 'vitest'
import { SendBudget } from './send-budget.ts'

describe('SendBudget', () => {
  it('does not count a catch-up larger than the limit, while it drains, against the live stream', () => {
    const b = new SendBudget(16_384)
    b.wrote(2_000_000, true) // a 2 MB snapshot
    // Half of it taken; a live frame arrives: only live bytes count, and there are none yet.
    expect(b.over(1_000_000)).toBe(false)
    b.wrote(1_000, false)
    expect(b.over(1_001_000)).toBe(false)
  })

  it('cuts off once the live bytes not yet taken pass the limit', () => {
    const b = new SendBudget(16_384)
    b.wrote(100_000, true)
    for (let i = 0; i < 20; i++) b.wrote(1_000, false)
    // The peer took nothing at all: 100 kB of catch-up and 20 kB of live bytes queued.
    expect(b.over(120_000)).toBe(true)
    // It took the whole catch-up and some live bytes: 10 kB of live bytes queued.
    expect(b.over(10_000)).toBe(false)
  })

  it('counts every byte once no catch-up is left', () => {
    const b = new SendBudget(100)
    b.wrote(50, false)
    expect(b.over(50)).toBe(false)
    b.wrote(60, false)
    expect(b.over(110)).toBe(true)
  })
})
