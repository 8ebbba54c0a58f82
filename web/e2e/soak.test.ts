/**
 * A TV left running: 20,000 live events (metrics, visitor counts, vitals summaries and builds)
 * through an open, rotating /tv page. After forced garbage collection its JS heap and DOM must not
 * keep growing: bounded stores, no leaked listeners, timers or nodes.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import type { Browser, CDPSession, Page } from 'playwright-core'
import type { TestServer } from '../../server/test/harness.ts'
import { fakeSummary, hasChromium, iso, launch, postBuild, seedPipelines, startServer, waitForHead } from './helpers.ts'

const suite = hasChromium ? describe : describe.skip
// SOAK_EVENTS=100000 runs a longer soak by hand.
const TOTAL = Number(process.env.SOAK_EVENTS ?? 20_000)
const BATCH = 250
const WARM_UP = 6000
const SITES = ['shop.example.com', 'blog.example.org', 'docs.example.net']

suite('a TV page under 20,000 events', () => {
  let browser: Browser
  let s: TestServer
  let page: Page
  let cdp: CDPSession

  beforeAll(async () => {
    s = await startServer()
    await seedPipelines(s, 24, { prefix: 'soak' })
    browser = await launch()
    page = await browser.newPage({ viewport: { width: 1920, height: 1080 } })
    page.on('pageerror', (e) => console.error('pageerror:', e.message))
    await page.goto(`${s.url}/tv?rotate=builds,sites,metrics&every=3s&dwell=2s&motion=off`)
    await page.waitForSelector('[data-testid=connection][data-state=live]')
    cdp = await page.context().newCDPSession(page)
    await cdp.send('HeapProfiler.enable')
  }, 120_000)
  afterAll(async () => {
    await browser?.close()
    await s?.destroy()
  })

  /**
   * Heap and DOM size, sampled on the same screen each time: the builds view, on its first page
   * when it pages (at 1080p the wall fits every pipeline on one screen and shows no page count).
   */
  async function heap() {
    await page.waitForFunction(
      () => {
        if ((document.querySelector('.rotation') as HTMLElement | null)?.dataset.view !== 'builds') return false
        const pages = document.querySelector('[data-testid=pages]')
        return !pages || /^\s*1\s*\//.test(pages.textContent ?? '')
      },
      null,
      { timeout: 30_000, polling: 100 }
    )
    // Twice: the first pass can leave garbage that only becomes collectable after finalizers run.
    await cdp.send('HeapProfiler.collectGarbage')
    await cdp.send('HeapProfiler.collectGarbage')
    const h = await cdp.send('Runtime.getHeapUsage')
    const nodes = await page.evaluate(() => document.getElementsByTagName('*').length)
    return { used: h.usedSize, nodes }
  }

  let sent = 0
  let buildNo = 0
  /** One batch as the server's capabilities would publish it, plus a build through the webhook. */
  async function batch() {
    for (let i = 0; i < BATCH; i++, sent++) {
      const k = sent % 20
      if (k < 13) {
        const name = `metric_${sent % 30}`
        s.hub.publish(
          'metric',
          {
            name,
            value: Math.random() * 1000,
            unit: 'ms',
            tags: { host: `h${sent % 4}` },
            at: new Date().toISOString(),
          },
          `metric:${name}`
        )
      } else if (k < 19) {
        const site = SITES[sent % SITES.length]!
        s.hub.publish('visitors', { site, live: sent % 50, last5m: 60 + (sent % 70) }, `visitors:${site}`)
      } else {
        const site = SITES[sent % SITES.length]!
        s.hub.publish('vitals', fakeSummary(site, { live: sent % 50, slow: sent % 2 === 0 }), `vitals:${site}`)
      }
    }
    // A build changes state every batch: running, then finished (pass or fail) on the next.
    const n = buildNo++
    const project = `soak/${['web', 'api', 'mobile', 'infra'][Math.floor(n / 2) % 4]}`
    const id = `soak-build-${Math.floor(n / 2)}`
    const status = n % 2 === 0 ? 'running' : Math.floor(n / 2) % 3 === 0 ? 'failure' : 'success'
    await postBuild(s, {
      id,
      project,
      branch: 'main',
      pipeline: 'CI',
      number: 1000 + Math.floor(n / 2),
      status,
      actor: 'soak',
      startedAt: iso(30_000),
      ...(status === 'running' ? {} : { finishedAt: iso(0) }),
    })
    sent++
  }

  it(
    'keeps its heap and DOM flat: no growth after warm-up',
    async () => {
      const samples: { events: number; used: number; nodes: number }[] = []
      const t0 = Date.now()
      // Warm-up: every view mounted more than once, stores filled to their caps, JIT settled.
      while (sent < WARM_UP) {
        await batch()
        await new Promise((r) => setTimeout(r, 300))
      }
      await waitForHead(page, s, 60_000)
      samples.push({ events: sent, ...(await heap()) })

      while (sent < TOTAL) {
        await batch()
        await new Promise((r) => setTimeout(r, 300))
        if (sent % 3500 < BATCH + 1) {
          await waitForHead(page, s, 60_000)
          samples.push({ events: sent, ...(await heap()) })
        }
      }
      await waitForHead(page, s, 60_000)
      samples.push({ events: sent, ...(await heap()) })
      const processed = await page.evaluate(() => (globalThis as any).__radiator.events as number)

      const mb = (b: number) => (b / 1024 / 1024).toFixed(2)
      console.log(
        `soak: ${sent} events sent, ${processed} applied by the page in ${((Date.now() - t0) / 1000).toFixed(0)} s\n` +
          samples
            .map(
              (x) => `  after ${String(x.events).padStart(5)} events: heap ${mb(x.used)} MB, ${x.nodes} DOM elements`
            )
            .join('\n')
      )
      expect(processed).toBeGreaterThanOrEqual(TOTAL)
      const warm = samples[0]!
      const end = samples[samples.length - 1]!
      const peak = Math.max(...samples.slice(1).map((x) => x.used))
      // Slack for JIT code and allocator noise; a leak of 100 bytes per event (14,000 events after
      // warm-up) would exceed it.
      expect(end.used).toBeLessThan(warm.used * 1.1 + 1024 * 1024)
      expect(peak).toBeLessThan(warm.used * 1.25 + 1.5 * 1024 * 1024)
      // Same screen each time: the same elements, give or take toasts and progress bars.
      expect(Math.abs(end.nodes - warm.nodes)).toBeLessThan(60)
    },
    Math.max(240_000, TOTAL * 12)
  )
})
