import { afterEach, describe, expect, it } from 'vitest'
import { type Job, Scheduler } from './scheduler.ts'

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms))
const schedulers: Scheduler[] = []
afterEach(async () => {
  await Promise.all(schedulers.splice(0).map((s) => s.stop()))
})

function scheduler() {
  const warnings: { msg: string; fields?: Record<string, unknown> }[] = []
  const s = new Scheduler({ warn: (msg, fields) => warnings.push({ msg, fields }) })
  schedulers.push(s)
  return { s, warnings }
}

async function until(pred: () => boolean, what: string, ms = 5000) {
  const end = Date.now() + ms
  while (!pred()) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`)
    await sleep(5)
  }
}

describe('scheduler', () => {
  it('runs a job by itself on its interval, first after firstAfterMs', async () => {
    const { s } = scheduler()
    const runs: number[] = []
    s.add({ name: 'tick', every: 10, firstAfterMs: 0, run: () => void runs.push(Date.now()) })
    expect(runs).toEqual([])
    s.start()
    await until(() => runs.length >= 3, 'three runs')
  })

  it('asks a next-run function for the wait after every run', async () => {
    const { s } = scheduler()
    const waits: number[] = []
    let runs = 0
    s.add({
      name: 'midnight',
      every: () => {
        waits.push(runs)
        return 5
      },
      run: () => void runs++,
    })
    s.start()
    await until(() => runs >= 2, 'two runs')
    // Asked once for the first run (no firstAfterMs) and again after each run.
    expect(waits.slice(0, 3)).toEqual([0, 1, 2])
  })

  it('never runs one job twice at once, also when asked to run it meanwhile', async () => {
    const { s } = scheduler()
    let running = 0
    let most = 0
    let runs = 0
    s.add({
      name: 'slow',
      every: 1,
      firstAfterMs: 0,
      async run() {
        most = Math.max(most, ++running)
        await sleep(20)
        running--
        runs++
      },
    })
    s.start()
    await Promise.all([s.run('slow'), s.run('slow'), sleep(70)])
    expect(runs).toBeGreaterThanOrEqual(3)
    expect(most).toBe(1)
  })

  it('logs a failed run with the job name and keeps the job scheduled', async () => {
    const { s, warnings } = scheduler()
    let runs = 0
    s.add({
      name: 'flaky',
      every: 5,
      firstAfterMs: 0,
      run() {
        if (++runs === 1) throw new Error('disk on fire')
      },
    })
    s.start()
    await until(() => runs >= 3, 'runs after the failure')
    expect(warnings[0]).toEqual({ msg: 'flaky failed', fields: { job: 'flaky', err: 'Error: disk on fire' } })
    expect(warnings).toHaveLength(1)
  })

  it('stop() waits for a run in progress, tells it to stop, and runs nothing after', async () => {
    const { s } = scheduler()
    let runs = 0
    let sawStop = false
    let release!: () => void
    const job: Job = {
      name: 'long',
      every: 1,
      firstAfterMs: 0,
      async run(stopping) {
        runs++
        await new Promise<void>((r) => (release = r))
        sawStop = stopping.aborted
      },
    }
    s.add(job)
    s.start()
    await until(() => runs === 1, 'the first run')
    let stopped = false
    const stopping = s.stop().then(() => (stopped = true))
    await sleep(10)
    expect(stopped).toBe(false)
    release()
    await stopping
    expect(sawStop).toBe(true)
    await sleep(20)
    expect(runs).toBe(1)
  })

  it('arms its timers unref’d: a pending job does not keep the process alive', () => {
    const { s } = scheduler()
    const seen: NodeJS.Timeout[] = []
    const real = globalThis.setTimeout
    globalThis.setTimeout = ((fn: () => void, ms: number) => {
      const t = real(fn, ms)
      seen.push(t)
      return t
    }) as typeof setTimeout
    try {
      s.add({ name: 'hourly', every: 3_600_000, run: () => {} })
      s.start()
    } finally {
      globalThis.setTimeout = real
    }
    expect(seen).toHaveLength(1)
    expect(seen[0]!.hasRef()).toBe(false)
  })

  it('refuses two jobs of one name', () => {
    const { s } = scheduler()
    s.add({ name: 'a', every: 10, run: () => {} })
    expect(() => s.add({ name: 'a', every: 10, run: () => {} })).toThrow(/already/)
  })
})
