/**
 * TV mode and screenshots: /tv with 40 pipelines at 1080p and 4K has no scrollbars and no
 * overlapping or cut text, shows all 40 without paging (4K denser, not bigger), views rotate; the
 * builds board, a site page and TV mode are saved as screenshots under .artifacts/screenshots/.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import type { Browser, Page } from 'playwright-core'
import type { TestServer } from '../../server/test/harness.ts'
import { hasChromium, launch, publishSite, screenshotPath, seedPipelines, startServer } from './helpers.ts'

const suite = hasChromium ? describe : describe.skip
const SITE = 'shop.example.com'

interface Box {
  tile: number
  text: string
  x: number
  y: number
  w: number
  h: number
  clipped: boolean
}

/** Layout facts of a TV page: scroll extents and the box of every piece of text on it. */
function layout(page: Page) {
  return page.evaluate(() => {
    const se = document.scrollingElement!
    const tiles = [...document.querySelectorAll('[data-testid=tile]')]
    const boxes: Box[] = []
    const add = (el: Element, tile: number) => {
      const r = el.getBoundingClientRect()
      const h = el as HTMLElement
      boxes.push({
        tile,
        text: (el.textContent ?? '').slice(0, 40),
        x: r.x,
        y: r.y,
        w: r.width,
        h: r.height,
        // Text that does not fit its box, either way, is cut off (the commit subject is prose and
        // the one line allowed to end early).
        clipped: !h.closest('.t-commit') && (h.scrollHeight > h.clientHeight + 1 || h.scrollWidth > h.clientWidth + 1),
      })
    }
    // Leaves only: a line and the icon inside it are meant to share space.
    const parts =
      '.icon, .t-word, .t-age, .t-name, .t-sub, .t-commit, .t-who, .t-bar, .t-eta, .t-history, .t-extra > span'
    tiles.forEach((t, i) => t.querySelectorAll(parts).forEach((el) => add(el, i)))
    document.querySelectorAll('.tvbar .count, .tvbar .pages, .tvbar .badge, .tvbar .clock').forEach((el) => add(el, -1))
    return {
      scrollHeight: se.scrollHeight,
      scrollWidth: se.scrollWidth,
      innerHeight,
      innerWidth,
      tiles: tiles.length,
      tileBoxes: tiles.map((t) => {
        const r = t.getBoundingClientRect()
        return { x: r.x, y: r.y, w: r.width, h: r.height }
      }),
      boxes,
      nameFontPx: parseFloat(getComputedStyle(document.querySelector('.t-name')!).fontSize),
      fullTiles: document.querySelectorAll('[data-testid=tile]:not([data-compact])').length,
      cursor: getComputedStyle(document.body).cursor,
    }
  })
}

const intersects = (a: Omit<Box, 'tile' | 'text' | 'clipped'>, b: Omit<Box, 'tile' | 'text' | 'clipped'>, eps = 0.5) =>
  a.x < b.x + b.w - eps && b.x < a.x + a.w - eps && a.y < b.y + b.h - eps && b.y < a.y + a.h - eps
const inside = (
  a: Omit<Box, 'tile' | 'text' | 'clipped'>,
  outer: { x: number; y: number; w: number; h: number },
  eps = 1
) =>
  a.x >= outer.x - eps &&
  a.y >= outer.y - eps &&
  a.x + a.w <= outer.x + outer.w + eps &&
  a.y + a.h <= outer.y + outer.h + eps

suite('TV mode and screenshots in Chromium', () => {
  let browser: Browser
  let s: TestServer

  beforeAll(async () => {
    // The shop is deployed by acme/web's CI on main: its successful builds are the shop's deploy markers.
    s = await startServer({ SITES: `${SITE},blog.example.org`, SITE_DEPLOYS: `${SITE}=acme/web:CI` })
    await seedPipelines(s, 40)
    browser = await launch()
  }, 120_000)
  afterAll(async () => {
    await browser?.close()
    await s?.destroy()
  })

  async function open(path: string, width: number, height: number) {
    const page = await browser.newPage({ viewport: { width, height } })
    page.on('pageerror', (e) => console.error('pageerror:', e.message))
    await page.goto(s.url + path)
    await page.waitForSelector('[data-testid=connection][data-state=live]')
    return page
  }

  /** Site figures arrive live; publish them once the page listens, as the metrics capability would. */
  async function withSites(page: Page) {
    publishSite(s, SITE, { live: 23 })
    publishSite(s, 'blog.example.org', { live: 4, slow: true })
    await page.waitForSelector(`[data-testid=site-live], [data-testid=site-card]`)
    await page.waitForTimeout(300)
  }

  const sizes = { '1080p': [1920, 1080], '4K': [3840, 2160] } as const
  const fonts: Record<string, number> = {}
  const fullTiles: Record<string, number> = {}

  for (const [name, [w, h]] of Object.entries(sizes)) {
    it(`shows /tv with 40 pipelines at ${w}×${h}: no scrollbars, no overlapping or cut text, all on one screen`, async () => {
      const page = await open('/tv?dwell=4s&motion=off', w, h)
      await page.waitForSelector('[data-testid=tile]')
      await page.waitForTimeout(300)
      const l = await layout(page)
      expect(l.scrollHeight).toBeLessThanOrEqual(l.innerHeight)
      expect(l.scrollWidth).toBeLessThanOrEqual(l.innerWidth)
      expect(l.tiles).toBe(40)
      expect(l.cursor).toBe('none')

      const screen = { x: 0, y: 0, w: l.innerWidth, h: l.innerHeight }
      for (const t of l.tileBoxes) expect(inside(t, screen)).toBe(true)
      for (let i = 0; i < l.tileBoxes.length; i++)
        for (let j = i + 1; j < l.tileBoxes.length; j++)
          expect(intersects(l.tileBoxes[i]!, l.tileBoxes[j]!)).toBe(false)
      const visible = l.boxes.filter((b) => b.w > 0 && b.h > 0)
      const overlaps: string[] = []
      for (let i = 0; i < visible.length; i++) {
        const a = visible[i]!
        if (a.clipped) overlaps.push(`cut off: "${a.text}"`)
        if (a.tile >= 0 && !inside(a, l.tileBoxes[a.tile]!)) overlaps.push(`outside its tile: "${a.text}"`)
        if (!inside(a, screen)) overlaps.push(`off screen: "${a.text}"`)
        for (let j = i + 1; j < visible.length; j++)
          if (intersects(a, visible[j]!)) overlaps.push(`"${a.text}" overlaps "${visible[j]!.text}"`)
      }
      expect(overlaps).toEqual([])
      fonts[name] = l.nameFontPx
      fullTiles[name] = l.fullTiles
      await page.screenshot({ path: screenshotPath(`tv-builds-${w}x${h}.png`) })

      // All 40 fit: what needs attention in large tiles, the rest smaller beside it, no paging.
      expect(await page.locator('[data-testid=pages]').count()).toBe(0)
      expect(await page.locator('[data-testid=clock]').textContent()).toMatch(/^\d\d:\d\d$/)
      // `m` at a TV: the screen says what it did, then the note goes away.
      const before = await page.locator('[data-testid=flash]').count()
      await page.keyboard.press('m')
      const said = (await page.locator('[data-testid=flash]').textContent())!
      await page.keyboard.press('m')
      expect(before).toBe(0)
      expect([said, await page.locator('[data-testid=flash]').textContent()].sort()).toEqual([
        '🔔 Sound on (m to mute)',
        '🔕 Sound muted (m to unmute)',
      ])
      await page.locator('[data-testid=flash]').waitFor({ state: 'detached', timeout: 5000 })
      await page.close()
    })
  }

  it('shows more on 4K, not the same tiles bigger: more full tiles, type less than twice the pixels', () => {
    expect(fullTiles['4K']!).toBeGreaterThan(fullTiles['1080p']!)
    expect(fonts['4K']! / fonts['1080p']!).toBeLessThan(2)
  })

  it('saves the builds board, a pipeline, a site page and TV views as screenshots', async () => {
    const laptop = await open('/', 1366, 768)
    await laptop.waitForSelector('[data-testid=tile]')
    await laptop.screenshot({ path: screenshotPath('board-1366x768.png') })
    await laptop.screenshot({ path: screenshotPath('board-1366x768-full.png'), fullPage: true })

    // Filters live in the URL and in the form; the keyboard reaches a tile and opens it.
    await laptop.selectOption('[data-testid=filter-status]', 'failing')
    await expect.poll(() => new URL(laptop.url()).search).toBe('?status=failing')
    const statuses = await laptop.$$eval('[data-testid=tile]', (els) => els.map((e) => e.getAttribute('data-status')))
    expect(statuses.length).toBe(5)
    expect(new Set(statuses)).toEqual(new Set(['failing']))
    await laptop.goto(`${s.url}/?project=acme/web`)
    await laptop.waitForSelector('[data-testid=tile]')
    expect(await laptop.$eval('[data-testid=filter-project]', (e) => (e as HTMLSelectElement).value)).toBe('acme/web')
    expect(
      await laptop.$$eval('[data-testid=tile] .t-name', (els) => [...new Set(els.map((e) => e.textContent))])
    ).toEqual(['acme/web'])
    // Several values are an OR, and the form says so rather than showing only the first.
    await laptop.goto(`${s.url}/?status=failing,running`)
    await laptop.waitForSelector('[data-testid=tile]')
    const statusFilter = await laptop.$eval('[data-testid=filter-status]', (e) => {
      const el = e as HTMLSelectElement
      return { value: el.value, text: el.selectedOptions[0]?.textContent }
    })
    expect(statusFilter).toEqual({ value: 'failing,running', text: 'failing or running' })
    expect(
      new Set(await laptop.$$eval('[data-testid=tile]', (els) => els.map((e) => e.getAttribute('data-status'))))
    ).toEqual(new Set(['failing', 'running']))
    await laptop.goto(`${s.url}/?status=failing`)
    await laptop.waitForSelector('[data-testid=tile]')
    for (let i = 0; i < 30; i++) {
      await laptop.keyboard.press('Tab')
      if (await laptop.evaluate(() => document.activeElement?.getAttribute('data-testid') === 'tile')) break
    }
    expect(await laptop.evaluate(() => document.activeElement?.getAttribute('aria-label'))).toMatch(
      /: failing for .*, broken by /
    )
    await laptop.keyboard.press('Enter')
    await laptop.waitForSelector('table.history tbody tr')
    await laptop.waitForSelector('.chart-wrap.bars svg')
    await laptop.screenshot({ path: screenshotPath('pipeline-1366x768.png'), fullPage: true })

    await laptop.goto(`${s.url}/sites/${SITE}`)
    await laptop.waitForSelector('[data-testid=connection][data-state=live]')
    await withSites(laptop)
    expect(await laptop.locator('[data-testid=site-live] .fig-n').textContent()).toBe('23')
    expect(await laptop.locator('[data-testid=vital-LCP]').getAttribute('data-rating')).toBe('good')
    expect(await laptop.locator('[data-testid=deploy-marker]').count()).toBeGreaterThan(0)
    // Deploys are drawn on every vital's p75 chart too, so a slowdown lines up with a build.
    for (const name of ['LCP', 'INP', 'CLS', 'FCP', 'TTFB'])
      expect(
        await laptop.locator(`[data-testid=vital-trend-${name}] [data-testid=deploy-marker]`).count(),
        name
      ).toBeGreaterThan(0)
    expect(await laptop.locator('[data-testid=vital-trend-LCP] path.line').getAttribute('d')).toMatch(
      /^M[\d.]+,[\d.]+(L[\d.]+,[\d.]+){10,}$/
    )
    await laptop.screenshot({ path: screenshotPath('site-1366x768.png'), fullPage: true })
    await laptop.close()

    for (const [w, h] of Object.values(sizes)) {
      const site = await open(`/sites/${SITE}?tv`, w, h)
      await withSites(site)
      const l = await site.evaluate(() => ({ sh: document.scrollingElement!.scrollHeight, ih: innerHeight }))
      expect(l.sh).toBeLessThanOrEqual(l.ih)
      await site.screenshot({ path: screenshotPath(`tv-site-${w}x${h}.png`) })
      await site.close()
    }

    const sites = await open('/sites?tv', 1920, 1080)
    await withSites(sites)
    await sites.screenshot({ path: screenshotPath('tv-sites-1920x1080.png') })
    await sites.close()

    const calm = await open('/tv?project=acme/docs-1,acme/docs-2,acme/docs-3', 1920, 1080)
    await calm.waitForSelector('[data-testid=all-green]')
    await calm.screenshot({ path: screenshotPath('tv-all-green-1920x1080.png') })
    await calm.close()

    const light = await open('/tv?theme=light&motion=off', 1920, 1080)
    await light.waitForSelector('[data-testid=tile]')
    expect(await light.evaluate(() => document.documentElement.dataset.theme)).toBe('light')
    await light.screenshot({ path: screenshotPath('tv-builds-light-1920x1080.png') })
    await light.close()
  }, 60_000)

  it('rotates views with ?rotate=builds,sites&every=…, after the board has shown all its pages', async () => {
    const page = await open('/tv?rotate=builds,sites&every=5s&dwell=3s', 1280, 720)
    const view = () => page.locator('.rotation').getAttribute('data-view')
    expect(await view()).toBe('builds')
    const t0 = Date.now()
    await expect.poll(view, { timeout: 15_000 }).toBe('sites')
    // Two pages of 3 s each, and at least the 5 s of `every`.
    expect(Date.now() - t0).toBeGreaterThanOrEqual(4000)
    await expect.poll(view, { timeout: 15_000 }).toBe('builds')
    await page.close()
  }, 40_000)
})
