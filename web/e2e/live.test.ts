/**
 * The dashboard against a real Radiator in headless Chromium: webhook → tile latency, the stale
 * banner when the server goes away, catching up after a restart without a reload, and the
 * WebSocket → SSE → long-polling fallback.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import type { Browser, Page } from 'playwright-core'
import type { TestServer } from '../../server/test/harness.ts'
import { hasChromium, iso, launch, postBuild, screenshotPath, startServer, waitForHead } from './helpers.ts'

const suite = hasChromium ? describe : describe.skip

suite('the live dashboard in Chromium', () => {
  let browser: Browser
  const servers: TestServer[] = []
  const pages: Page[] = []

  beforeAll(async () => {
    browser = await launch()
  })
  afterAll(async () => {
    await browser?.close()
    await Promise.all(servers.map((s) => s.destroy().catch(() => {})))
  })

  async function server(env: Parameters<typeof startServer>[0] = {}, dir?: string) {
    const s = await startServer(env, dir)
    servers.push(s)
    return s
  }
  async function open(s: { url: string }, path = '/') {
    const page = await browser.newPage({ viewport: { width: 1366, height: 768 } })
    pages.push(page)
    page.on('pageerror', (e) => console.error('pageerror:', e.message))
    await page.goto(s.url + path)
    return page
  }
  const tile = (page: Page, project: string) => page.locator(`[data-testid=tile]`, { hasText: project })
  const statusOf = (page: Page, project: string) => tile(page, project).getAttribute('data-status', { timeout: 10_000 })
  /** Every tile's project and status, in board order. */
  const board = (page: Page) =>
    page.$$eval('[data-testid=tile]', (els) =>
      els.map((e) => `${e.querySelector('.t-name')?.textContent}:${e.getAttribute('data-status')}`)
    )

  it('turns a running tile into a failing one within 2 s of the webhook, with toast, title and aria-label', async () => {
    const s = await server()
    const base = {
      project: 'acme/web',
      branch: 'main',
      actor: 'octocat',
      commit: { subject: 'Break the build', author: 'octocat' },
    }
    await postBuild(s, { ...base, id: 'b1', number: 1, status: 'running', startedAt: iso(30_000) })
    const page = await open(s)
    await expect.poll(() => statusOf(page, 'acme/web')).toBe('running')
    await page.evaluate(() => {
      const w = window as any
      w.__failingAt = 0
      new MutationObserver(() => {
        if (!w.__failingAt && document.querySelector('[data-testid=tile][data-status=failing]'))
          w.__failingAt = Date.now()
      }).observe(document.body, { subtree: true, childList: true, attributes: true })
    })

    const t0 = Date.now()
    await postBuild(s, { ...base, id: 'b1', number: 1, status: 'failure', startedAt: iso(30_000), finishedAt: iso(0) })
    await page.waitForFunction(() => (window as any).__failingAt > 0, null, { timeout: 5000, polling: 'raf' })
    const latency = (await page.evaluate(() => (window as any).__failingAt as number)) - t0
    console.log(`state change latency (webhook POST sent → tile shows failing): ${latency} ms`)
    expect(latency).toBeLessThan(2000)

    const label = await tile(page, 'acme/web').getAttribute('aria-label')
    expect(label).toMatch(/^acme\/web main \(build\): failing for \d+ seconds?, broken by octocat$/)
    await expect
      .poll(() => page.locator('[data-testid=toast][data-transition=broken]').textContent())
      .toMatch(/acme\/web main.*#1 broken by octocat/)
    await expect.poll(() => page.title()).toMatch(/^✗ 1 failing · Radiator$/)
    expect(await page.getAttribute('link[rel=icon]', 'href')).toMatch(/^data:image\/svg\+xml,/)

    // And back: a new build that passes is announced as fixed, by whom.
    await postBuild(s, {
      ...base,
      id: 'b2',
      number: 2,
      status: 'success',
      actor: 'ada',
      startedAt: iso(20_000),
      finishedAt: iso(0),
    })
    await expect.poll(() => statusOf(page, 'acme/web')).toBe('passing')
    await expect
      .poll(() => page.locator('[data-testid=toast][data-transition=fixed]').textContent())
      .toMatch(/fixed by ada/)
    await expect.poll(() => page.locator('[data-testid=all-green]').textContent()).toMatch(/The pipeline is passing/)
    await page.close()
  })

  it('renders CI text as text: markup in a commit subject or branch is not HTML', async () => {
    const s = await server()
    await postBuild(s, {
      id: 'x',
      project: 'acme/<b>bold</b>',
      branch: '<img src=x onerror="window.__pwned=1">',
      status: 'failure',
      commit: { subject: '<script>window.__pwned=1</script>' },
      actor: '<i>mallory</i>',
      url: 'javascript:window.__pwned=1',
    })
    const page = await open(s)
    await expect.poll(() => statusOf(page, 'acme/<b>bold</b>')).toBe('failing')
    expect(await tile(page, 'acme/<b>bold</b>').locator('.t-commit').textContent()).toBe(
      '<script>window.__pwned=1</script>'
    )
    expect(await page.$$('.tile b, .tile img, .tile i:not([data-s]), .tile script')).toHaveLength(0)
    await tile(page, 'acme/<b>bold</b>').click()
    await page.waitForSelector('table.history tbody tr')
    expect(await page.$$('table.history a[href^="javascript:"]')).toHaveLength(0)
    expect(await page.evaluate(() => (window as any).__pwned)).toBeUndefined()
    await page.close()
  })

  it('shows "stale for N seconds, since HH:MM" and dims the board when the server stops, then catches up after a restart without reloading', async () => {
    const s1 = await server()
    await postBuild(s1, { id: 'a1', project: 'acme/api', branch: 'main', status: 'success', finishedAt: iso(60_000) })
    await postBuild(s1, { id: 'w1', project: 'acme/web', branch: 'main', status: 'running', startedAt: iso(10_000) })
    const page = await open(s1)
    await expect.poll(() => statusOf(page, 'acme/web')).toBe('running')
    await page.evaluate(() => ((window as any).__sameDocument = true))

    await s1.close()
    const banner = page.locator('[data-testid=stale-banner]')
    await banner.waitFor({ timeout: 15_000 })
    expect(await banner.textContent()).toMatch(/^Stale for \d+ seconds?, since \d\d:\d\d — not receiving updates/)
    expect(await page.locator('[data-testid=connection]').textContent()).toMatch(/reconnecting \(attempt \d+\)/)
    expect(Number(await page.$eval('main', (m) => getComputedStyle(m).opacity))).toBeLessThan(1)
    await page.screenshot({ path: screenshotPath('board-stale-1366x768.png') })

    // While the screen is cut off, builds finish (on the same database, through another instance).
    const s2 = await server({}, s1.dataDir)
    await postBuild(s2, {
      id: 'w1',
      project: 'acme/web',
      branch: 'main',
      status: 'failure',
      startedAt: iso(10_000),
      finishedAt: iso(0),
    })
    await postBuild(s2, { id: 'd1', project: 'acme/docs', branch: 'main', status: 'success', finishedAt: iso(0) })
    await s2.close()

    // The server comes back on its old address; the page reconnects by itself and resumes.
    const s3 = await server({ PORT: String(s1.port) }, s1.dataDir)
    await expect.poll(() => statusOf(page, 'acme/web'), { timeout: 45_000 }).toBe('failing')
    await expect.poll(() => statusOf(page, 'acme/docs')).toBe('passing')
    await banner.waitFor({ state: 'detached' })
    expect(await page.evaluate(() => (window as any).__sameDocument)).toBe(true)
    expect(await page.locator('[data-testid=connection]').getAttribute('data-state')).toBe('live')

    // What it shows equals what a fresh load shows.
    const fresh = await open(s3)
    await expect.poll(() => board(fresh)).toEqual(await board(page))
    expect((await board(page)).sort()).toEqual(['acme/api:passing', 'acme/docs:passing', 'acme/web:failing'])
    await page.close()
    await fresh.close()
  }, 90_000)

  it('reloads itself once when the server comes back with a new version', async () => {
    const s1 = await server()
    await postBuild(s1, { id: 'v1', project: 'acme/ver', branch: 'main', status: 'success' })
    const page = await open(s1)
    await expect.poll(() => statusOf(page, 'acme/ver')).toBe('passing')
    await page.evaluate(() => ((window as any).__sameDocument = true))
    await s1.close()
    // The test harness names the version after PUBLIC_URL: a new URL is a new version.
    const s2 = await server({ PORT: String(s1.port), PUBLIC_URL: `http://127.0.0.1:${s1.port}` }, s1.dataDir)
    await page.waitForEvent('load', { timeout: 45_000 })
    await expect.poll(() => statusOf(page, 'acme/ver')).toBe('passing')
    expect(await page.evaluate(() => (window as any).__sameDocument)).toBeUndefined()
    await waitForHead(page, s2)
    await page.close()
  }, 90_000)

  it('goes live over SSE when the WebSocket upgrade is refused', async () => {
    const s = await server({ LIVE_TRANSPORTS: 'sse,poll' })
    const page = await open(s)
    const badge = page.locator('[data-testid=connection]')
    await expect.poll(() => badge.getAttribute('data-state')).toBe('live')
    expect(await badge.getAttribute('data-transport')).toBe('sse')
    await postBuild(s, { id: 'e1', project: 'acme/sse', branch: 'main', status: 'failure' })
    await expect.poll(() => statusOf(page, 'acme/sse')).toBe('failing')
    await waitForHead(page, s)
    await page.close()
  })

  it('goes live over long polling when WebSocket and SSE are both refused', async () => {
    const s = await server({ LIVE_TRANSPORTS: 'poll' })
    const page = await open(s)
    const badge = page.locator('[data-testid=connection]')
    await expect.poll(() => badge.getAttribute('data-state')).toBe('live')
    expect(await badge.getAttribute('data-transport')).toBe('poll')
    await postBuild(s, { id: 'p1', project: 'acme/poll', branch: 'main', status: 'running', startedAt: iso(1000) })
    await expect.poll(() => statusOf(page, 'acme/poll')).toBe('running')
    await postBuild(s, {
      id: 'p1',
      project: 'acme/poll',
      branch: 'main',
      status: 'success',
      startedAt: iso(1000),
      finishedAt: iso(0),
    })
    await expect.poll(() => statusOf(page, 'acme/poll')).toBe('passing')
    await page.close()
  })
})
