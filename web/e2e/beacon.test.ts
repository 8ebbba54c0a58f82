/**
 * The snippet in a real browser: a shop page served on loopback under the site's own hostname
 * (mapped with --host-resolver-rules, so the Origin is the site's), opened in headless Chromium.
 * Page views, live visitors and every vital Chromium reports must show up through the API and on
 * the live channel.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { existsSync } from 'node:fs'
import http from 'node:http'
import type { AddressInfo } from 'node:net'
import { join } from 'node:path'
import { chromium, type Browser } from 'playwright-core'
import { ROOT } from '../../server/http/web-build.ts'
import { BEACON_PATH } from '../../server/metrics/beacon-file.ts'
import { until, WsTestClient, type TestServer } from '../../server/test/harness.ts'
import { BROWSER_UA, eventually, json, startMetricsServer } from '../../server/test/metrics.ts'
import type { Summary, VitalName } from '../../contract/metrics.ts'
import { CHROMIUM, hasChromium } from './helpers.ts'

const SHOP = 'shop.example.test'
const suite = hasChromium ? describe : describe.skip

/** The shop: a big heading (LCP), a banner pushed in late (CLS) and a slow button (INP). */
const page = (radiator: string) => `<!doctype html>
<html><head><meta charset="utf-8"><title>Shop</title>
<script defer src="${radiator}/beacon.js" data-site="${SHOP}"></script></head>
<body>
<h1 style="font-size:56px">Spring sale: everything must go</h1>
<p>${'Hand-made things for the home. '.repeat(40)}</p>
<button id="buy" style="font-size:24px">Buy now</button>
<a id="next" href="/about">About us</a>
<script>
  setTimeout(() => {
    const banner = document.createElement('div')
    banner.style.height = '160px'
    banner.textContent = 'Free shipping today'
    document.body.prepend(banner)
  }, 300)
  document.getElementById('buy').addEventListener('click', () => {
    const t = performance.now()
    while (performance.now() - t < 150) {}
    document.getElementById('buy').textContent = 'In your basket'
  })
</script>
</body></html>`

suite('the beacon in Chromium', () => {
  let browser: Browser
  let radiator: TestServer
  let shop: http.Server
  let shopPort = 0
  const clients: WsTestClient[] = []

  beforeAll(async () => {
    if (!existsSync(BEACON_PATH)) {
      const { build } = await import('vite')
      await build({ configFile: join(ROOT, 'web', 'vite.beacon.config.ts'), logLevel: 'warn' })
    }
    radiator = await startMetricsServer({ SITES: SHOP }, { vitalsEveryMs: 500 })
    shop = http.createServer((_req, res) => {
      res.writeHead(200, { 'content-type': 'text/html; charset=utf-8' })
      res.end(page(radiator.url))
    })
    await new Promise<void>((r) => shop.listen(0, '127.0.0.1', r))
    shopPort = (shop.address() as AddressInfo).port
    browser = await chromium.launch({
      executablePath: CHROMIUM,
      // Playwright turns the back/forward cache off by default; the snippet must handle restores.
      ignoreDefaultArgs: ['--disable-back-forward-cache'],
      args: [
        '--no-sandbox',
        '--disable-gpu',
        '--disable-background-networking',
        `--host-resolver-rules=MAP ${SHOP} 127.0.0.1`,
      ],
    })
  })

  afterAll(async () => {
    clients.forEach((c) => c.close())
    await browser?.close()
    await new Promise((r) => shop?.close(r))
    await radiator?.destroy()
  })

  it('reports page views, live visitors and LCP, FCP, TTFB, CLS and INP', async () => {
    const live = new WsTestClient(`${radiator.url.replace('http', 'ws')}/live?topics=visitors,vitals`)
    clients.push(live)
    await until(() => live.events()[0], 'snapshot')
    const summary = () => json<Summary>(fetch(`${radiator.url}/api/sites/${SHOP}/summary?window=1h`))

    // HeadlessChrome's own User-Agent is (rightly) a bot; a visitor's browser isn't.
    const context = await browser.newContext({ userAgent: BROWSER_UA, viewport: { width: 1280, height: 800 } })
    const tab = await context.newPage()
    const errors: string[] = []
    tab.on('pageerror', (e) => errors.push(e.message))
    await tab.goto(`http://${SHOP}:${shopPort}/products?ref=mail`)

    await until(
      () => live.events().find((e) => e.type === 'visitors' && e.data.live === 1),
      'a live visitor on the live channel'
    )
    expect((await json(fetch(`${radiator.url}/api/sites`))).sites[0]).toMatchObject({ site: SHOP, live: 1, last5m: 1 })

    // Single-page-app navigation: a new path is a page view, a new query string is not, and going
    // back is one again.
    await tab.evaluate(() => history.pushState({}, '', '/checkout'))
    await tab.evaluate(() => history.replaceState({}, '', '/checkout?step=2'))
    await tab.evaluate(() => history.back())
    await tab.waitForTimeout(500) // the banner shifts the layout meanwhile
    await tab.click('#buy')
    // web-vitals processes an interaction in an idle callback. Headless Chromium makes no frames
    // (hence no idle periods) after input until something asks for one, as a visible tab would;
    // an interaction still queued when the page hides only goes out on a later hide.
    await tab.evaluate(() => new Promise((r) => requestAnimationFrame(() => requestAnimationFrame(r))))
    await tab.waitForTimeout(500)

    // Closing the tab hides it: the snippet flushes the vitals with a leave.
    await tab.close({ runBeforeUnload: false })
    await context.close()

    const reported: VitalName[] = ['LCP', 'FCP', 'TTFB', 'CLS', 'INP']
    let s!: Summary
    await eventually(
      async () => {
        s = await summary()
        return s.pageviews === 3 && reported.every((m) => s.vitals[m].samples >= 1)
      },
      'page views and all five vitals in the summary',
      15_000
    ).catch(async (e) => {
      throw new Error(`${e.message}: ${JSON.stringify({ pageviews: s?.pageviews, vitals: s?.vitals })}`)
    })
    expect(s.topPages.byViews).toEqual([
      { path: '/products', views: 2 },
      { path: '/checkout', views: 1 },
    ])
    expect(s.vitals.LCP.p75).toBeGreaterThan(0)
    expect(s.vitals.CLS.p75).toBeGreaterThan(0)
    expect(s.vitals.INP.p75).toBeGreaterThanOrEqual(100)
    // Vitals belong to the page as loaded (its path, never the query string).
    expect(s.topPages.byLcp.map((p) => p.path)).toEqual(['/products'])

    await until(
      () => live.events().find((e) => e.type === 'visitors' && e.data.live === 0 && e.data.last5m === 1),
      'the leave on the live channel'
    )
    const vitals = await until(
      () => live.events().find((e) => e.type === 'vitals' && reported.every((m) => e.data.vitals[m].samples >= 1)),
      'a vitals event with every metric',
      15_000
    )
    expect(vitals.data).toMatchObject({ site: SHOP, window: '24h', pageviews: 3 })
    expect(errors).toEqual([])
  })

  it('counts a back/forward-cache restore as a page view', async () => {
    const live = new WsTestClient(`${radiator.url.replace('http', 'ws')}/live?topics=visitors`)
    clients.push(live)
    await until(() => live.events()[0], 'snapshot')
    const views = async (path: string) =>
      (await json<Summary>(fetch(`${radiator.url}/api/sites/${SHOP}/summary?window=1h`))).topPages.byViews.find(
        (p) => p.path === path
      )?.views ?? 0
    const before = { home: await views('/home'), about: await views('/about') }

    const context = await browser.newContext({ userAgent: BROWSER_UA })
    const tab = await context.newPage()
    await tab.goto(`http://${SHOP}:${shopPort}/home`)
    await tab.evaluate(() => ((window as unknown as { kept: boolean }).kept = true))
    await tab.click('#next')
    await tab.waitForURL('**/about')
    await tab.goBack({ waitUntil: 'commit' }) // a restore fires pageshow, not load
    // The same document came back (a reload would have lost this).
    expect(await tab.evaluate(() => (window as unknown as { kept?: boolean }).kept)).toBe(true)

    await eventually(
      async () => (await views('/home')) === before.home + 2 && (await views('/about')) === before.about + 1,
      'home viewed twice, about once'
    )
    // The restored page is visible again: live after the leave sent when it was left.
    await until(
      () =>
        live
          .events()
          .filter((e) => e.type === 'visitors')
          .at(-1)?.data.live === 1,
      'live again after the restore'
    )
    await context.close()
  })
})
