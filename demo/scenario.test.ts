import { getEventListeners } from 'node:events'
import { afterEach, describe, expect, it } from 'vitest'
import { sleep } from './scenario.ts'

const warnings: Error[] = []
const onWarning = (w: Error) => warnings.push(w)
afterEach(() => {
  process.off('warning', onWarning)
  warnings.length = 0
})

describe('the demo scenario', () => {
  it('leaves no abort listener on its long-lived signal after many page-view pauses', async () => {
    process.on('warning', onWarning)
    const demoLifetime = new AbortController()
    // A visitor pauses between pages; a demo that runs for an hour pauses thousands of times.
    for (let i = 0; i < 100; i++) await sleep(1, demoLifetime.signal)
    await new Promise((r) => setImmediate(r))
    expect(getEventListeners(demoLifetime.signal, 'abort')).toHaveLength(0)
    expect(warnings.filter((w) => w.name === 'MaxListenersExceededWarning')).toEqual([])
  })

  it('ends a pause at once when the demo stops', async () => {
    const demoLifetime = new AbortController()
    const pauses = Array.from({ length: 5 }, () => sleep(3_600_000, demoLifetime.signal))
    demoLifetime.abort()
    await Promise.all(pauses)
    expect(getEventListeners(demoLifetime.signal, 'abort')).toHaveLength(0)
    // Stopped already: nothing is added.
    await sleep(3_600_000, demoLifetime.signal)
    expect(getEventListeners(demoLifetime.signal, 'abort')).toHaveLength(0)
  })
})
