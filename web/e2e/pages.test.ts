/**
 * The pages that fetch what the live stream does not carry, against a real Radiator in headless
 * Chromium: a pipeline's history paged 50 builds at a time (kept when a live build lands on top, kept
 * with an error when a page cannot be loaded, and loaded once the server is back), a build's jobs,
 * and a site page for another window re-reading its summary at most every 10 s while live vitals
 * arrive.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import type { Browser, Page } from 'playwright-core'
import type { TestServer } from '../../server/test/harness.ts'
import { ciCapability } from '../../server/ci/index.ts'
import { tileId } from '../../server/ci/store.ts'
import { createMetricsCapability } from '../../server/metrics/index.ts'
import { hasChromium, iso, launch, postBuild, publishSite, startServer } from './helpers.ts'

const suite = hasChromium ? describe : describe.skip
const MIN = 60_000
const SITE = 'shop.example.com'

suite('pages that fetch, in Chromium', () => {
  let browser: Browser
  const servers: TestServer[] = []

  beforeAll(async () => {
    browser = await launch()
  })
  afterAll(async () => {
    await browser?.close()
    await Promise.all(servers.map((s) => s.destroy().catch(() => {})))
  })

  async function server(
    env: Parameters<typeof startServer>[0] = {},
    dir?: string,
    caps?: Parameters<typeof startServer>[2]
  ) {
    const s = await startServer(env, dir, caps)
    servers.push(s)
    return s
  }
  async function open(s: { url: string }, path: string) {
    const page = await browser.newPage({ viewport: { width: 1366, height: 768 } })
    page.on('pageerror', (e) => console.error('pageerror:', e.message))
    await page.goto(s.url + path)
    await page.waitForSelector('[data-testid=connection][data-state=live]')
    return page
  }
  /** Posts builds #1…#n of acme/pages on main, one a minute, the newest finished a minute ago. */
  async function seedHistory(s: { url: string }, n: number) {
    for (let i = 1; i <= n; i++)
      await postBuild(s, {
        id: `pages-${i}`,
        project: 'acme/pages',
        pipeline: 'CI',
        branch: 'main',
        number: i,
        status: 'success',
        startedAt: iso((n - i + 2) * MIN),
        finishedAt: iso((n - i + 1) * MIN),
      })
    return `/pipelines/${tileId('generic', 'acme/pages', 'CI', 'main')}`
  }
  /** The build numbers in the history table, top to bottom. */
  const rows = (page: Page) =>
    page.$$eval('table.history tbody tr:not(.jobs) button.link', (els) =>
      els.map((e) => Number(/#(\d+)/.exec(e.textContent ?? '')?.[1]))
    )
  const range = (from: number, to: number) => Array.from({ length: from - to + 1 }, (_, i) => from - i)
  const more = (page: Page) => page.getByRole('button', { name: 'Load older builds' })

  it('pages older builds 50 at a time, keeps them when a live build lands on top, and opens a build with its jobs', async () => {
    const s = await server()
    const path = await seedHistory(s, 120)
    const page = await open(s, path)
    await expect.poll(() => rows(page)).toEqual(range(120, 71))
    await more(page).click()
    await expect.poll(() => rows(page)).toEqual(range(120, 21))
    await more(page).click()
    await expect.poll(() => rows(page)).toEqual(range(120, 1))
    expect(await more(page).count()).toBe(0)

    // A build finishes: the page re-reads the newest builds and puts it on top of all it had.
    await postBuild(s, {
      id: 'pages-121',
      project: 'acme/pages',
      pipeline: 'CI',
      branch: 'main',
      number: 121,
      status: 'failure',
      startedAt: iso(MIN / 2),
      finishedAt: iso(0),
    })
    await expect.poll(() => rows(page)).toEqual(range(121, 1))
    expect(await page.locator('table.history tbody tr[data-status=failing]').count()).toBe(1)

    await page.getByRole('button', { name: '#121' }).click()
    await expect.poll(() => page.locator('tr.jobs').textContent()).toBe('No jobs reported.')
    await page.getByRole('button', { name: '#121' }).click()
    expect(await page.locator('tr.jobs').count()).toBe(0)
    expect(await page.locator('[role=alert]').count()).toBe(0)
    await page.close()
  }, 90_000)

  it('keeps the builds it shows when older ones cannot be loaded, says so, and loads them once the server is back', async () => {
    const s1 = await server()
    const path = await seedHistory(s1, 60)
    const page = await open(s1, path)
    await expect.poll(() => rows(page)).toEqual(range(60, 11))

    await s1.close()
    await page.waitForSelector('[data-testid=connection]:not([data-state=live])')
    await more(page).click()
    const alert = page.locator('p.error[role=alert]')
    await expect.poll(() => alert.textContent()).toMatch(/^Could not load the history: /)
    expect(await rows(page)).toEqual(range(60, 11))

    // Back on its address with the same data: the same button loads the page that failed.
    await server({ PORT: String(s1.port) }, s1.dataDir)
    await page.waitForSelector('[data-testid=connection][data-state=live]', { timeout: 30_000 })
    await more(page).click()
    await expect.poll(() => rows(page)).toEqual(range(60, 1))
    expect(await alert.count()).toBe(0)
    expect(await more(page).count()).toBe(0)
    await page.close()
  }, 90_000)

  it('re-reads the summary of another window at most every 10 s while live vitals arrive', async () => {
    // The site's figures here are the test's (publishSite): the server's own sweep would publish others.
    const s = await server({ SITES: SITE }, undefined, [
      ciCapability,
      createMetricsCapability({ sweepEveryMs: 3_600_000 }),
    ])
    const asked: number[] = []
    const page = await browser.newPage({ viewport: { width: 1366, height: 768 } })
    page.on('request', (r) => r.url().includes(`/api/sites/${SITE}/summary`) && asked.push(Date.now()))
    await page.goto(`${s.url}/sites/${SITE}?window=7d`)
    await page.waitForSelector('[data-testid=connection][data-state=live]')
    await expect.poll(() => asked.length).toBeGreaterThanOrEqual(1)
    expect(new URL(page.url()).search).toBe('?window=7d')
    // Whatever the page's own start asks for (its first snapshot may bring a summary, re-read up to
    // 10 s later) is over once 10 s pass without a read: measured, not assumed (a loaded machine is late).
    await expect
      .poll(() => Date.now() - asked.at(-1)!, { timeout: 40_000, interval: 250 })
      .toBeGreaterThanOrEqual(10_500)
    const settled = asked.length

    // After a quiet spell the first push is re-read at once; three more within two seconds make one
    // re-read, 10 s after that one; then nothing.
    publishSite(s, SITE, { live: 10 })
    // At once: well inside the 10 s a deferred re-read would wait.
    await expect.poll(() => asked.length, { timeout: 5_000 }).toBe(settled + 1)
    for (let i = 1; i < 4; i++) {
      await page.waitForTimeout(500)
      publishSite(s, SITE, { live: 10 + i })
    }
    await expect.poll(() => page.locator('[data-testid=site-live] .fig-n').textContent()).toBe('13')
    expect(asked).toHaveLength(settled + 1)
    await expect.poll(() => asked.length, { timeout: 20_000 }).toBe(settled + 2)
    expect(asked.at(-1)! - asked.at(-2)!).toBeGreaterThanOrEqual(9_500)
    await page.waitForTimeout(2_000)
    expect(asked).toHaveLength(settled + 2)
    await page.close()
  }, 90_000)
})
