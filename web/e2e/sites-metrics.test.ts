/**
 * Issue 13, the site and metrics views: deploy markers come only from the pipelines SITE_DEPLOYS maps
 * to a site, and only from their successful builds (a site without a mapping says so and draws
 * none); site cards keep their places across live updates; custom metrics have a scale and take
 * colour from the thresholds they were pushed with, at /custom-metrics; nothing scrolls sideways on
 * a 375 px phone, whose header takes two rows; laptop views grow on a 4K screen.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import type { Browser, Page } from 'playwright-core'
import type { TestServer } from '../../server/test/harness.ts'
import {
  hasChromium,
  iso,
  launch,
  postBuild,
  publishSite,
  screenshotPath,
  seedPipelines,
  startServer,
} from './helpers.ts'
import { ciCapability } from '../../server/ci/index.ts'
import { createMetricsCapability } from '../../server/metrics/index.ts'

const suite = hasChromium ? describe : describe.skip
const MIN = 60_000
const SHOP = 'shop.example.com'
const BLOG = 'blog.example.org'
const DOCS = 'docs.example.com'
const METRICS_TOKEN = 'm3trics'

suite('Sites and metrics tell the truth (issue 13)', () => {
  let browser: Browser
  let s: TestServer

  beforeAll(async () => {
    s = await startServer(
      {
        SITES: `${SHOP},${BLOG},${DOCS}`,
        SITE_DEPLOYS: `${SHOP}=acme/shop:deploy, ${DOCS}=acme/docs@release`,
        METRICS_TOKEN,
      },
      undefined,
      // The figures here are published by the test (publishSite); the server's own periodic sweep
      // would publish its real ones (no visitors) over them at an arbitrary moment.
      [ciCapability, createMetricsCapability({ sweepEveryMs: 3_600_000 })]
    )
    await seedPipelines(s, 10)
    // Before any page opens: one real deploy of the shop, and everything that must not look like one.
    const before: Parameters<typeof postBuild>[1][] = [
      {
        id: 'shop-deploy-1',
        project: 'acme/shop',
        pipeline: 'deploy',
        branch: 'main',
        status: 'success',
        number: 11,
        finishedAt: iso(50 * MIN),
      },
      {
        id: 'shop-deploy-2',
        project: 'acme/shop',
        pipeline: 'deploy',
        branch: 'main',
        status: 'failure',
        number: 12,
        finishedAt: iso(40 * MIN),
      },
      {
        id: 'shop-ci-1',
        project: 'acme/shop',
        pipeline: 'CI',
        branch: 'main',
        status: 'success',
        number: 13,
        finishedAt: iso(35 * MIN),
      },
      {
        id: 'shop-deploy-pr',
        project: 'acme/shop',
        pipeline: 'deploy',
        branch: 'feature/x',
        status: 'success',
        number: 14,
        finishedAt: iso(30 * MIN),
      },
      {
        id: 'other-deploy-1',
        project: 'acme/other',
        pipeline: 'deploy',
        branch: 'main',
        status: 'success',
        number: 15,
        finishedAt: iso(25 * MIN),
      },
      {
        id: 'docs-main-1',
        project: 'acme/docs',
        pipeline: 'pages',
        branch: 'main',
        status: 'success',
        number: 16,
        finishedAt: iso(45 * MIN),
      },
      {
        id: 'docs-release-1',
        project: 'acme/docs',
        pipeline: 'pages',
        branch: 'release',
        status: 'success',
        number: 17,
        finishedAt: iso(20 * MIN),
      },
    ]
    for (const b of before)
      await postBuild(s, { startedAt: new Date(Date.parse(b.finishedAt!) - 2 * MIN).toISOString(), ...b })
    browser = await launch()
  }, 120_000)
  afterAll(async () => {
    await browser?.close()
    await s?.destroy()
  })

  async function open(path: string, width = 1366, height = 768) {
    const page = await browser.newPage({ viewport: { width, height } })
    page.on('pageerror', (e) => console.error('pageerror:', e.message))
    await page.addInitScript(() => {
      const seen: string[] = ((window as unknown as { __csp: string[] }).__csp = [])
      document.addEventListener('securitypolicyviolation', (e) => seen.push(`${e.violatedDirective} ${e.blockedURI}`))
    })
    await page.goto(s.url + path)
    await page.waitForSelector('[data-testid=connection][data-state=live]')
    return page
  }

  /** The build numbers the site page's main chart marks as deploys. */
  const markedBuilds = (page: Page) =>
    page.$$eval('.chart-box [data-testid=deploy-marker] title', (els) =>
      els.flatMap((e) => [...(e.textContent ?? '').matchAll(/#(\d+)/g)].map((m) => Number(m[1]))).sort((a, b) => a - b)
    )

  it('draws deploy markers only from the pipelines mapped to the site, and only their successful builds', async () => {
    const page = await open(`/sites/${SHOP}`)
    publishSite(s, SHOP, { live: 12 })
    await expect.poll(() => markedBuilds(page), { timeout: 5000 }).toEqual([11])
    expect(await page.locator('[data-testid=deploys-mapped]').textContent()).toMatch(/acme\/shop deploy/)
    // The same markers on the vitals' p75 charts.
    expect(await page.locator('[data-testid=vital-trend-LCP] [data-testid=deploy-marker]').count()).toBe(1)

    // Live: a failed deploy, a build of another pipeline or project, a branch build: none is a deploy.
    await postBuild(s, {
      id: 'shop-deploy-3',
      project: 'acme/shop',
      pipeline: 'deploy',
      branch: 'main',
      status: 'failure',
      number: 21,
      finishedAt: iso(10 * MIN),
    })
    await postBuild(s, {
      id: 'shop-ci-2',
      project: 'acme/shop',
      pipeline: 'CI',
      branch: 'main',
      status: 'success',
      number: 22,
      finishedAt: iso(8 * MIN),
    })
    await postBuild(s, {
      id: 'other-deploy-2',
      project: 'acme/other',
      pipeline: 'deploy',
      branch: 'main',
      status: 'success',
      number: 23,
      finishedAt: iso(6 * MIN),
    })
    await postBuild(s, {
      id: 'shop-deploy-pr2',
      project: 'acme/shop',
      pipeline: 'deploy',
      branch: 'feature/y',
      status: 'success',
      number: 24,
      finishedAt: iso(4 * MIN),
    })
    // …and a successful deploy of the shop is.
    await postBuild(s, {
      id: 'shop-deploy-4',
      project: 'acme/shop',
      pipeline: 'deploy',
      branch: 'main',
      status: 'success',
      number: 25,
      finishedAt: iso(2 * MIN),
    })
    await expect.poll(() => markedBuilds(page), { timeout: 5000 }).toEqual([11, 25])
    await page.screenshot({ path: screenshotPath('site-deploys-1366x768.png'), fullPage: true })
    await page.close()

    // A mapped branch: only that branch's successful builds, of any pipeline of the project.
    const docs = await open(`/sites/${DOCS}`)
    publishSite(s, DOCS, { live: 3 })
    await expect.poll(() => markedBuilds(docs), { timeout: 5000 }).toEqual([17])
    await docs.close()

    // No mapping: no markers, and a discreet line saying how to get them.
    const blog = await open(`/sites/${BLOG}`)
    publishSite(s, BLOG, { live: 4 })
    await blog.waitForSelector('[data-testid=deploys-unmapped]')
    expect(await blog.locator('[data-testid=deploys-unmapped]').textContent()).toBe('deploys: set SITE_DEPLOYS')
    expect(await blog.locator('[data-testid=deploy-marker]').count()).toBe(0)
    await blog.close()

    // The cards on /sites follow the same rule.
    const sites = await open('/sites')
    for (const site of [SHOP, BLOG, DOCS]) publishSite(s, site)
    await sites.waitForSelector('[data-testid=site-card] [data-testid=deploys-mapped]')
    const cards = await sites.$$eval('[data-testid=site-card]', (els) =>
      els.map((e) => ({
        site: e.querySelector('.sc-name')!.textContent,
        markers: e.querySelectorAll('[data-testid=deploy-marker]').length,
      }))
    )
    expect(cards).toEqual([
      { site: SHOP, markers: 2 },
      { site: BLOG, markers: 0 },
      { site: DOCS, markers: 1 },
    ])
    await sites.close()
  }, 60_000)

  it('keeps site cards in their configured order while the figures change', async () => {
    const page = await open('/sites?tv', 1920, 1080)
    const order = () => page.$$eval('[data-testid=site-card] .sc-name', (els) => els.map((e) => e.textContent))
    const rounds: Record<string, number>[] = [
      { [SHOP]: 5, [BLOG]: 50, [DOCS]: 20 },
      { [SHOP]: 40, [BLOG]: 2, [DOCS]: 90 },
      { [SHOP]: 1, [BLOG]: 30, [DOCS]: 7 },
    ]
    for (const live of rounds) {
      for (const [site, n] of Object.entries(live)) publishSite(s, site, { live: n })
      await expect
        .poll(() => page.$$eval('[data-testid=site-card] .sc-live', (els) => els.map((e) => Number(e.textContent))), {
          timeout: 5000,
        })
        .toEqual([live[SHOP], live[BLOG], live[DOCS]])
      expect(await order()).toEqual([SHOP, BLOG, DOCS])
    }
    await page.close()
  })

  async function pushMetrics(body: unknown): Promise<Response> {
    return fetch(`${s.url}/api/metrics`, {
      method: 'POST',
      headers: { authorization: `Bearer ${METRICS_TOKEN}`, 'content-type': 'application/json' },
      body: JSON.stringify(body),
    })
  }

  it('shows custom metrics at /custom-metrics on a scale, coloured by the thresholds they were pushed with', async () => {
    for (const v of [0.4, 0.9, 1.3])
      expect(
        (
          await pushMetrics([
            { name: 'error rate', value: v, unit: '%', warn: 1, crit: 2 },
            { name: 'disk free', value: 40 - v * 20, unit: 'GB', warn: 20, crit: 10 },
            { name: 'queue depth', value: v * 100 },
          ])
        ).status
      ).toBe(202)
    // Thresholds are optional and validated.
    expect((await pushMetrics({ name: 'error rate', value: 1, warn: 'high' })).status).toBe(400)

    const page = await open('/custom-metrics')
    expect(await page.locator('.topbar nav a[aria-current=page]').getAttribute('href')).toBe('/custom-metrics')
    const tile = (name: string) => page.locator('[data-testid=metric]', { hasText: name })
    await tile('error rate').locator('[data-testid=scale-max]').waitFor()
    // The last hour comes from the API, so the scale spans what was pushed before the page opened.
    expect(await tile('error rate').locator('[data-testid=scale-max]').textContent()).toBe('1.3')
    expect(await tile('error rate').locator('[data-testid=scale-min]').textContent()).toBe('0.4')
    expect(await tile('error rate').getAttribute('data-level')).toBe('warn')
    expect(await tile('error rate').locator('[data-testid=threshold-crit]').count()).toBe(1)
    // warn above crit: lower is worse (14 GB free is past the warning at 20).
    expect(await tile('disk free').getAttribute('data-level')).toBe('warn')
    expect(await tile('queue depth').getAttribute('data-level')).toBeNull()

    // A live push past the critical threshold turns the tile red at once.
    await pushMetrics({ name: 'error rate', value: 2.5, unit: '%', warn: 1, crit: 2 })
    await expect.poll(() => tile('error rate').getAttribute('data-level'), { timeout: 5000 }).toBe('crit')
    expect(await tile('error rate').getAttribute('aria-label')).toBe('error rate: 2.5 %, past its critical threshold')
    expect(await tile('error rate').locator('[data-testid=scale-max]').textContent()).toBe('2.5')
    // The new charts run under the Content-Security-Policy like every other view.
    expect(await page.evaluate(() => (window as unknown as { __csp: string[] }).__csp)).toEqual([])
    await page.screenshot({ path: screenshotPath('custom-metrics-1366x768.png') })
    await page.close()

    // On a TV the tiles share the screen and the chart takes the room the value leaves.
    const tv = await open('/custom-metrics?tv', 1920, 1080)
    await tv.waitForSelector('[data-testid=metric] [data-testid=scale-max]')
    const sizes = await tv.$$eval('[data-testid=metric]', (els) =>
      els.map((e) => {
        const r = e.getBoundingClientRect()
        return { w: r.width, h: r.height, chart: e.querySelector('.chart-wrap')!.getBoundingClientRect().height }
      })
    )
    const area = sizes.reduce((a, t) => a + t.w * t.h, 0)
    expect(area).toBeGreaterThan(0.6 * 1920 * 1080)
    for (const t of sizes) expect(t.chart).toBeGreaterThan(0.2 * t.h)
    expect(await tv.evaluate(() => document.scrollingElement!.scrollHeight <= innerHeight)).toBe(true)
    await tv.screenshot({ path: screenshotPath('tv-custom-metrics-1920x1080.png') })
    await tv.close()
  }, 60_000)

  it('has no sideways scroll on a 375 px phone, and the header takes at most two rows', async () => {
    const pipelines = (await (await fetch(`${s.url}/api/pipelines`)).json()) as {
      pipelines: { id: string; project: string }[]
    }
    const shopDeploy = pipelines.pipelines.find((p) => p.project === 'acme/shop')!.id
    for (const path of ['/', `/pipelines/${shopDeploy}`, '/sites', `/sites/${SHOP}`, '/custom-metrics']) {
      const page = await open(path, 375, 812)
      for (const site of [SHOP, BLOG, DOCS]) publishSite(s, site)
      await page.waitForTimeout(300)
      if (path.startsWith('/pipelines')) await page.waitForSelector('table.history tbody tr')
      const l = await page.evaluate(() => {
        const visible = [...document.querySelectorAll('.topbar > *')].filter(
          (e) => (e as HTMLElement).offsetWidth > 0 && getComputedStyle(e).position !== 'absolute'
        )
        return {
          scrollWidth: document.scrollingElement!.scrollWidth,
          innerWidth,
          // Items of one flex row share a vertical middle (the row centres them).
          rows: visible
            .map((e) => {
              const r = e.getBoundingClientRect()
              return r.top + r.height / 2
            })
            .sort((a, b) => a - b)
            .filter((c, i, all) => i === 0 || c - all[i - 1]! > 10).length,
          headerH: document.querySelector('.topbar')!.getBoundingClientRect().height,
          // Nothing sticks out of the right edge, even where an overflow: hidden parent hides the scroll.
          outside: [...document.querySelectorAll('main *')]
            .filter((e) => {
              const r = e.getBoundingClientRect()
              return r.width > 0 && r.right > innerWidth + 0.5
            })
            .map((e) => `${e.tagName}.${e.getAttribute('class') ?? ''}`)
            .slice(0, 5),
        }
      })
      expect(l.scrollWidth, path).toBeLessThanOrEqual(l.innerWidth)
      expect(l.outside, path).toEqual([])
      expect(l.rows, path).toBeLessThanOrEqual(2)
      expect(l.headerH, path).toBeLessThan(100)
      await page.screenshot({ path: screenshotPath(`phone${path.replace(/\W+/g, '-')}-375x812.png`) })
      await page.close()
    }
  }, 60_000)

  it('grows laptop views with a 4K screen, and leaves /tv to size itself', async () => {
    const rootPx = async (path: string, w: number, h: number) => {
      const page = await open(path, w, h)
      const px = await page.evaluate(() => parseFloat(getComputedStyle(document.documentElement).fontSize))
      const bodyPx = await page.evaluate(() => parseFloat(getComputedStyle(document.body).fontSize))
      await page.close()
      return { px, bodyPx }
    }
    const hd = await rootPx('/', 1920, 1080)
    const uhd = await rootPx('/', 3840, 2160)
    expect(uhd.px).toBeGreaterThanOrEqual(1.8 * hd.px)
    expect(uhd.bodyPx).toBeGreaterThanOrEqual(1.8 * hd.bodyPx)
    expect((await rootPx('/tv', 3840, 2160)).px).toBe(hd.px)
  })
})
