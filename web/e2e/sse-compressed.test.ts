/**
 * A standard EventSource in Chromium on the compressed event stream, across restarts of the real
 * process: once stopped with SIGTERM (the server ends the stream, with its gzip trailer) and once
 * killed with SIGKILL (the stream is cut: no trailer, no end of the chunked body). Both times
 * EventSource reconnects by itself and resumes with Last-Event-ID: nothing missed, nothing twice.
 */
import { spawn } from 'node:child_process'
import { rmSync } from 'node:fs'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import type { Browser } from 'playwright-core'
import { ROOT } from '../../server/http/web-build.ts'
import { tempDir, until } from '../../server/test/harness.ts'
import { hasChromium, launch, postBuild, seedPipelines, TOKEN } from './helpers.ts'

const suite = hasChromium ? describe : describe.skip

/** Radiator as `npm start` runs it, on `port` (0: any) and `dataDir`; resolves with its URL. */
function startProcess(dataDir: string, port: number) {
  const child = spawn(process.execPath, ['--import', 'tsx', 'server/main.ts'], {
    cwd: ROOT,
    env: {
      PATH: process.env.PATH,
      HOME: process.env.HOME,
      PORT: String(port),
      HOST: '127.0.0.1',
      DATA_DIR: dataDir,
      LOG_LEVEL: 'warn',
      GENERIC_WEBHOOK_TOKEN: TOKEN,
      PUBLIC_DASHBOARD: 'true',
    },
    stdio: ['ignore', 'pipe', 'pipe'],
  })
  let stdout = ''
  let stderr = ''
  child.stdout.on('data', (d) => (stdout += d))
  child.stderr.on('data', (d) => (stderr += d))
  const exited = new Promise<void>((r) => child.on('exit', () => r()))
  const url = until(
    () => stdout.match(/Dashboard:\s+(http:\/\/\S+?)\/\n/)?.[1],
    `the printed URL (stderr: ${stderr})`,
    60_000
  )
  return { child, exited, url }
}

/** Waits until the page-side check `pred` holds. */
async function eventually(pred: () => Promise<boolean>, what: string, ms = 10_000): Promise<void> {
  const end = Date.now() + ms
  while (!(await pred())) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`)
    await new Promise((r) => setTimeout(r, 50))
  }
}

interface Seen {
  id: string
  type: string
  resumed?: boolean
  pipelines?: number
}

suite('a compressed event stream in Chromium', () => {
  let browser: Browser
  const dataDir = tempDir()
  let current: ReturnType<typeof startProcess> | undefined

  beforeAll(async () => {
    browser = await launch()
  })
  afterAll(async () => {
    await browser?.close()
    current?.child.kill('SIGKILL')
    await current?.exited
    rmSync(dataDir, { recursive: true, force: true })
  })

  it('reconnects and resumes with Last-Event-ID after the server ends the stream and after it is cut', async () => {
    current = startProcess(dataDir, 0)
    const url = await current.url
    const port = Number(new URL(url).port)
    // A board whose snapshot is well over the 16 KB from which it is compressed.
    await seedPipelines({ url }, 40)

    const page = await browser.newPage()
    const encodings: (string | undefined)[] = []
    page.on('response', (r) => {
      if (r.url().includes('/live/sse')) encodings.push(r.headers()['content-encoding'])
    })
    await page.goto(`${url}/healthz`)
    await page.evaluate(() => {
      const w = window as unknown as { seen: Seen[]; states: number[] }
      w.seen = []
      w.states = []
      const es = new EventSource('/live/sse')
      es.onmessage = (e) => {
        const m = JSON.parse(e.data)
        if (m.type === 'heartbeat') return
        w.seen.push({ id: e.lastEventId, type: m.type, resumed: m.data?.resumed, pipelines: m.data?.pipelines?.length })
      }
      // CONNECTING (0) after an error: EventSource will reconnect; CLOSED (2): it gave up.
      es.onerror = () => w.states.push(es.readyState)
    })
    const seen = () => page.evaluate(() => (window as unknown as { seen: Seen[] }).seen)
    const builds = async () => (await seen()).filter((m) => m.type.startsWith('build.'))

    await eventually(async () => (await seen())[0]?.type === 'snapshot', 'the first snapshot')
    expect((await seen())[0]!.pipelines).toBe(40)

    const restarts = [
      { signal: 'SIGTERM' as const, project: 'acme/after-sigterm' },
      { signal: 'SIGKILL' as const, project: 'acme/after-sigkill' },
    ]
    let wanted = 1
    await postBuild({ url }, { project: 'acme/before', status: 'failure' })
    await eventually(async () => (await builds()).length === wanted, 'the first build')
    for (const { signal, project } of restarts) {
      const lastId = (await seen()).at(-1)!.id
      const snapshots = (await seen()).filter((m) => m.type === 'snapshot').length
      current.child.kill(signal)
      await current.exited
      current = startProcess(dataDir, port)
      await current.url
      await eventually(
        async () => (await seen()).filter((m) => m.type === 'snapshot').length > snapshots,
        `the snapshot after ${signal}`,
        30_000
      )
      const snap = (await seen()).at(-1)!
      // Resumed at the id EventSource last saw (its Last-Event-ID), carrying no state.
      expect(snap).toMatchObject({ type: 'snapshot', id: lastId, resumed: true })
      await postBuild({ url }, { project, status: 'failure' })
      wanted++
      await eventually(async () => (await builds()).length === wanted, `the build after ${signal}`)
    }

    const ids = (await builds()).map((m) => Number(m.id))
    expect(new Set(ids).size).toBe(ids.length)
    expect(ids).toEqual([...ids].sort((a, b) => a - b))
    expect(await page.evaluate(() => (window as unknown as { states: number[] }).states)).not.toContain(2)
    // Every connection (first, after SIGTERM, after SIGKILL) was the gzip stream.
    expect(encodings).toEqual(['gzip', 'gzip', 'gzip'])
    await page.close()
  }, 120_000)
})
