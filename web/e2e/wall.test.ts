/**
 * Issue 13, "the wall tells the truth at a glance", against a real Radiator in headless Chromium:
 * a broken pipeline stays red while its fix runs; every failing tile is on screen at every moment;
 * the board is the notification (no overlays); filtered screens stay quiet about other projects;
 * names are never cut; a TV recovers within seconds; a silent build says "no news"; wrong
 * bookmarks say what is wrong.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import type { Browser, Page } from 'playwright-core'
import type { TestServer } from '../../server/test/harness.ts'
import {
  WALL_PROJECTS,
  hasChromium,
  iso,
  launch,
  postBuild,
  screenshotPath,
  seedWall,
  startServer,
  waitForHead,
  type WallSeed,
} from './helpers.ts'

const suite = hasChromium ? describe : describe.skip
const MIN = 60_000

/** Failing tiles that are not fully on screen, uncovered and red; empty when all are. */
function failingProblems(page: Page, ids: string[]) {
  return page.evaluate((ids) => {
    const out: string[] = []
    for (const id of ids) {
      const el = document.querySelector(`[data-tile-id="${id}"]`)
      if (!el) {
        out.push(`${id}: not on screen`)
        continue
      }
      const r = el.getBoundingClientRect()
      if (
        r.width < 20 ||
        r.height < 20 ||
        r.top < -1 ||
        r.left < -1 ||
        r.bottom > innerHeight + 1 ||
        r.right > innerWidth + 1
      )
        out.push(`${id}: outside the screen`)
      if (el.getAttribute('data-status') !== 'failing') out.push(`${id}: drawn ${el.getAttribute('data-status')}`)
      const hit = document.elementFromPoint(r.x + r.width / 2, r.y + r.height / 2)
      if (!hit || !el.contains(hit)) out.push(`${id}: covered by ${hit?.className}`)
    }
    return out
  }, ids)
}

/** Text on tiles that does not fit its box: scrollWidth > clientWidth or scrollHeight > clientHeight. */
function cutText(page: Page) {
  return page.evaluate(() => {
    const out: string[] = []
    for (const tile of document.querySelectorAll<HTMLElement>('[data-testid=tile]')) {
      for (const el of [tile, ...tile.querySelectorAll<HTMLElement>('*')]) {
        if (!(el instanceof HTMLElement) || !el.textContent?.trim() || el.offsetParent === null) continue
        // The commit subject is prose, the one line allowed to end early; everything else is checked.
        if (el.classList.contains('t-commit') || el.closest('.t-commit')) continue
        if (el.scrollWidth > el.clientWidth + 1 || el.scrollHeight > el.clientHeight + 1)
          out.push(
            `${el.className}: "${el.textContent.slice(0, 50)}" (${el.scrollWidth}×${el.scrollHeight} in ${el.clientWidth}×${el.clientHeight})`
          )
      }
    }
    return out
  })
}

/** Tiles with a point that some other element covers. */
function coveredTiles(page: Page) {
  return page.evaluate(() => {
    const out: string[] = []
    for (const t of document.querySelectorAll<HTMLElement>('[data-testid=tile]')) {
      const r = t.getBoundingClientRect()
      for (const [fx, fy] of [
        [0.5, 0.5],
        [0.1, 0.1],
        [0.9, 0.1],
        [0.1, 0.9],
        [0.9, 0.9],
      ] as const) {
        const hit = document.elementFromPoint(r.x + r.width * fx, r.y + r.height * fy)
        if (!hit || !t.contains(hit)) {
          out.push(`${t.dataset.tileId} at ${fx},${fy}: ${hit?.className || hit?.tagName}`)
          break
        }
      }
    }
    return out
  })
}

const pagesOf = async (page: Page) => {
  const el = page.locator('[data-testid=pages]')
  if (!(await el.count())) return 1
  return Number((await el.textContent())!.match(/\/(\d+)$/)![1])
}

suite('the wall tells the truth at a glance (issue 13)', () => {
  let browser: Browser
  let s: TestServer
  let seed: WallSeed
  const servers: TestServer[] = []

  beforeAll(async () => {
    s = await startServer()
    seed = await seedWall(s)
    browser = await launch()
  }, 120_000)
  afterAll(async () => {
    await browser?.close()
    await s?.destroy()
    await Promise.all(servers.map((x) => x.destroy().catch(() => {})))
  })

  async function open(path: string, width = 1920, height = 1080, server: { url: string } = s) {
    const page = await browser.newPage({ viewport: { width, height } })
    page.on('pageerror', (e) => console.error('pageerror:', e.message))
    await page.goto(server.url + path)
    await page.waitForSelector('[data-testid=connection][data-state=live]')
    await page.waitForSelector('[data-testid=tile], [data-testid=not-found], [data-testid=all-green]')
    // Fitting text runs on the next frames.
    await page.waitForTimeout(300)
    return page
  }

  it('keeps a broken pipeline red while its fix runs, with the progress on the red tile', async () => {
    const page = await open('/tv?motion=off')
    const fixing = page.locator(`[data-tile-id="${seed.fixing}"]`)
    expect(await fixing.getAttribute('data-status')).toBe('failing')
    expect(await fixing.getAttribute('data-activity')).toBe('running')
    expect(await fixing.locator('[role=progressbar]').count()).toBe(1)
    expect(await fixing.locator('.t-word').textContent()).toBe('failing')
    // The header's count and the red tiles agree.
    expect(await page.locator('.tvbar .count[data-status=failing]').textContent()).toMatch(/6 failing/)
    expect(await page.locator('[data-testid=tile][data-status=failing]').count()).toBe(6)
    // ?status=failing includes it too.
    await page.goto(`${s.url}/?status=failing`)
    await page.waitForSelector('[data-testid=tile]')
    expect(await page.locator(`[data-tile-id="${seed.fixing}"]`).count()).toBe(1)
    expect(await page.locator('[data-testid=tile]').count()).toBe(6)
    await page.close()
  })

  const sizes = [
    [1366, 768],
    [1920, 1080],
    [3840, 2160],
  ] as const
  const fullTiles: Record<string, number> = {}
  for (const [w, h] of [[960, 540], ...sizes] as const) {
    it(`shows every failing tile at every moment over two dwell cycles at ${w}×${h}`, async () => {
      const page = await open('/tv?motion=off&dwell=2s', w, h)
      const pages = await pagesOf(page)
      const seen = new Set<string>()
      const end = Date.now() + 2 * pages * 2000 + 600
      let samples = 0
      while (Date.now() < end) {
        expect(await failingProblems(page, seed.failing)).toEqual([])
        for (const id of await page.$$eval('[data-testid=tile]', (els) =>
          els.map((e) => e.getAttribute('data-tile-id')!)
        ))
          seen.add(id)
        samples++
        await page.waitForTimeout(150)
      }
      expect(samples).toBeGreaterThan(10)
      // Every pipeline was on screen at some point (paging shows the rest, never scrolls).
      expect(seen.size).toBe(40)
      const l = await page.evaluate(() => ({
        sh: document.scrollingElement!.scrollHeight,
        sw: document.scrollingElement!.scrollWidth,
      }))
      expect(l.sh).toBeLessThanOrEqual(h)
      expect(l.sw).toBeLessThanOrEqual(w)
      fullTiles[`${w}`] = await page.locator('[data-testid=tile]:not([data-compact])').count()
      if (w >= 1920) expect(pages, 'no paging while everything fits').toBe(1)
      if (w < 1000) expect(pages, 'a small screen pages the rest, keeping the failing tiles').toBeGreaterThan(1)
      await page.close()
    }, 60_000)
  }

  it('shows more on 4K than on 1080p, not the same tiles bigger', () => {
    expect(fullTiles['3840']!).toBeGreaterThan(fullTiles['1920']!)
  })

  for (const [w, h] of [...sizes, [375, 812] as const]) {
    it(`cuts no text on a tile at ${w}×${h}, names included, with long real-world names`, async () => {
      for (const path of ['/tv?motion=off', '/?motion=off']) {
        const page = await open(path, w, h)
        expect(await cutText(page), path).toEqual([])
        // On a wall every tile is on screen and uncovered (a laptop page scrolls).
        if (path.startsWith('/tv')) expect(await coveredTiles(page), path).toEqual([])
        // A name is whole: the shared prefix said once in the header plus the tile's name is the project.
        const caption = (
          (await page.locator('[data-testid=caption]').count())
            ? await page.locator('[data-testid=caption]').textContent()
            : ''
        )!
        const prefix = caption.split(' · ')[0]!.trim()
        const names = await page.$$eval('[data-testid=tile] .t-name', (els) => els.map((e) => e.textContent ?? ''))
        expect(names.length).toBeGreaterThan(0)
        for (const n of names) {
          expect(n).not.toMatch(/…$/)
          expect(WALL_PROJECTS).toContain(prefix + n)
        }
        // The build number is on the branch line of every tile.
        const subs = await page.$$eval('[data-testid=tile] .t-sub', (els) => els.map((e) => e.textContent ?? ''))
        for (const sub of subs) expect(sub).toMatch(/#\d+$/)
        await page.close()
      }
    }, 60_000)
  }

  it('covers no tile after a burst of 20 finished builds: the tiles light up and one ticker line says it', async () => {
    const page = await open('/tv?motion=off')
    for (let i = 0; i < 20; i++) {
      const project = WALL_PROJECTS[i]!
      await postBuild(s, {
        id: `${project}:main:burst`,
        project,
        branch: 'main',
        pipeline: 'build-test-and-deploy',
        number: 5000 + i,
        status: 'success',
        actor: 'grace',
        startedAt: iso(5 * MIN),
        finishedAt: iso(0),
      })
    }
    await waitForHead(page, s)
    await page.waitForTimeout(300)
    expect(await page.locator('.toast, [data-testid=toast]').count()).toBe(0)
    expect(await coveredTiles(page)).toEqual([])
    expect(await page.locator('[data-testid=tile][data-changed]').count()).toBeGreaterThan(0)
    expect(await page.locator('[data-testid=ticker]').textContent()).toMatch(/#50\d\d/)
    await page.screenshot({ path: screenshotPath('wall-after-burst-1920x1080.png') })
    await page.close()
  }, 60_000)

  it('makes no sound, toast or count on a filtered screen for other projects', async () => {
    const f = await startServer()
    servers.push(f)
    for (const project of ['acme/docs', 'acme/shop', 'other/thing'])
      await postBuild(f, { id: `${project}:0`, project, branch: 'main', status: 'success', finishedAt: iso(MIN) })
    const laptop = await open('/?project=acme/docs&sound=on', 1366, 768, f)
    const tv = await open('/tv?project=acme/docs&sound=on', 1920, 1080, f)
    // A key press is the gesture browsers want before audio; the sound preference is already on.
    await laptop.keyboard.press('x')
    await tv.keyboard.press('x')
    const played = (p: Page) => p.evaluate(() => (globalThis as any).__radiatorAlerts.played as number)
    const titles = [await laptop.title(), await tv.title()]

    await postBuild(f, {
      id: 'acme/shop:1',
      project: 'acme/shop',
      branch: 'main',
      status: 'failure',
      actor: 'mallory',
      finishedAt: iso(0),
    })
    await postBuild(f, {
      id: 'other/thing:1',
      project: 'other/thing',
      branch: 'main',
      status: 'failure',
      finishedAt: iso(0),
    })
    await waitForHead(laptop, f)
    await waitForHead(tv, f)
    await laptop.waitForTimeout(300)
    expect(await laptop.locator('[data-testid=toast]').count()).toBe(0)
    expect(await played(laptop)).toBe(0)
    expect(await played(tv)).toBe(0)
    expect(await tv.locator('[data-testid=ticker]').textContent()).toBe('')
    expect([await laptop.title(), await tv.title()]).toEqual(titles)
    expect(await laptop.locator('.count[data-status=failing]').count()).toBe(0)

    // The screen's own project is announced, sounded and counted.
    await postBuild(f, {
      id: 'acme/docs:1',
      project: 'acme/docs',
      branch: 'main',
      status: 'failure',
      actor: 'ken',
      finishedAt: iso(0),
    })
    await expect.poll(() => laptop.locator('[data-testid=toast][data-transition=broken]').count()).toBe(1)
    await expect.poll(() => played(laptop)).toBe(1)
    await expect.poll(() => played(tv)).toBe(1)
    await expect.poll(() => tv.locator('[data-testid=ticker]').textContent()).toMatch(/acme\/docs/)
    await expect.poll(() => laptop.title()).toMatch(/^✗ 1 failing/)
    await expect.poll(() => tv.title()).toMatch(/^✗ 1 failing/)
    await laptop.close()
    await tv.close()
  }, 60_000)

  it('shows a build whose final webhook never came as "no news", not as running', async () => {
    const n = await startServer()
    servers.push(n)
    for (let k = 0; k < 3; k++)
      await postBuild(n, {
        id: `stuck:${k}`,
        project: 'acme/stuck',
        branch: 'main',
        status: 'success',
        startedAt: iso((180 - k * 10) * MIN),
        finishedAt: iso((175 - k * 10) * MIN),
      })
    await postBuild(n, {
      id: 'stuck:9',
      project: 'acme/stuck',
      branch: 'main',
      number: 9,
      status: 'running',
      startedAt: iso(120 * MIN),
    })
    await postBuild(n, {
      id: 'fine:1',
      project: 'acme/fine',
      branch: 'main',
      status: 'success',
      startedAt: iso(20 * MIN),
      finishedAt: iso(15 * MIN),
    })
    await postBuild(n, {
      id: 'fine:2',
      project: 'acme/fine',
      branch: 'main',
      status: 'running',
      startedAt: iso(2 * MIN),
    })
    const page = await open('/tv?motion=off', 1920, 1080, n)
    const stuck = page.locator('[data-testid=tile]', { hasText: 'stuck' })
    expect(await stuck.getAttribute('data-status')).toBe('silent')
    expect(await stuck.locator('.t-word').textContent()).toBe('no news')
    expect(await stuck.locator('.t-who').textContent()).toMatch(/^no word from CI since \d\d:\d\d$/)
    expect(await stuck.locator('[role=progressbar]').count()).toBe(0)
    expect(await page.locator('[data-testid=tile]', { hasText: 'fine' }).getAttribute('data-status')).toBe('running')
    expect(await page.locator('.tvbar .count[data-status=running]').textContent()).toMatch(/1 running/)
    await page.close()
  })

  it('says plainly what is wrong with a bad bookmark, and shows real not-found views', async () => {
    const bad = await open('/tv?every=-1&rotate=nope&device=toaster&dwell=soon', 1920, 1080)
    const note = (await bad.locator('[data-testid=url-note]').textContent())!
    expect(note).toMatch(/“every=-1” is not a duration/)
    expect(note).toMatch(/“nope” is not a view/)
    expect(note).toMatch(/“device=toaster” is not one of mobile, tablet, desktop/)
    expect(note).toMatch(/“dwell=soon” is not a duration/)
    expect(await coveredTiles(bad)).toEqual([])
    await bad.screenshot({ path: screenshotPath('wall-bad-options-1920x1080.png') })
    await bad.close()

    const good = await open('/tv?every=30s&dwell=10s', 1920, 1080)
    expect(await good.locator('[data-testid=url-note]').count()).toBe(0)
    await good.close()

    const site = await open('/sites/nope.example.com?tv', 1920, 1080)
    expect(await site.locator('[data-testid=not-found]').textContent()).toMatch(/No site “nope\.example\.com”/)
    expect(await site.locator('[data-testid=site-live]').count()).toBe(0)
    expect(await site.locator('svg.chart').count()).toBe(0)
    await site.close()

    const pipe = await open('/pipelines/0123456789abcdef?tv', 1920, 1080)
    expect(await pipe.locator('[data-testid=not-found]').textContent()).toMatch(/No pipeline “0123456789abcdef”/)
    expect(await pipe.locator('table.history, h2').count()).toBe(0)
    await pipe.close()

    const device = await open('/sites/shop.example.com?device=toaster', 1366, 768)
    expect(await device.locator('[data-testid=url-note]').textContent()).toMatch(/device=toaster/)
    expect(await device.locator('.error').count()).toBe(0)
    await device.close()
  }, 60_000)

  it('recovers within 5 s of the server coming back, says how long it was stale, keeps the clock and freezes timers', async () => {
    const r1 = await startServer()
    servers.push(r1)
    await postBuild(r1, { id: 'r:1', project: 'acme/api', branch: 'main', status: 'success', finishedAt: iso(MIN) })
    await postBuild(r1, { id: 'r:2', project: 'acme/web', branch: 'main', status: 'running', startedAt: iso(30_000) })
    const page = await open('/tv?motion=off', 1920, 1080, r1)
    const errors: string[] = []
    page.on('console', (m) => m.type() === 'error' && errors.push(m.text()))
    await r1.close()
    const banner = page.locator('[data-testid=stale-banner]')
    await banner.waitFor({ timeout: 15_000 })
    expect(await banner.textContent()).toMatch(/^Stale for \d+ seconds?, since \d\d:\d\d — not receiving updates/)
    // The clock and the counts stay visible beside the banner.
    for (const sel of ['[data-testid=clock]', '.tvbar .count']) {
      const covered = await page.$eval(sel, (el) => {
        const r = el.getBoundingClientRect()
        const hit = document.elementFromPoint(r.x + r.width / 2, r.y + r.height / 2)
        return r.height > 0 && hit && el.contains(hit) ? null : `${hit?.className}`
      })
      expect(covered, sel).toBeNull()
    }
    const age = () => page.locator('[data-testid=tile]', { hasText: 'web' }).locator('.t-age').textContent()
    const frozen = await age()
    // Long enough for an uncapped backoff to have grown well past 5 s.
    await page.waitForTimeout(16_000)
    expect(await age()).toBe(frozen)
    const attempts = Number((await page.locator('[data-testid=connection]').textContent())!.match(/attempt (\d+)/)![1])
    expect(attempts).toBeGreaterThan(4)
    // One cheap probe per attempt while the server is away, not a failing request per transport.
    expect(errors.length, errors.join('\n')).toBeLessThanOrEqual(attempts * 1.5 + 2)

    const t0 = Date.now()
    const r2 = await startServer({ PORT: String(r1.port) }, r1.dataDir)
    servers.push(r2)
    await page.locator('[data-testid=connection][data-state=live]').waitFor({ timeout: 10_000 })
    const took = Date.now() - t0
    console.log(`TV back live ${took} ms after the server listened again`)
    expect(took).toBeLessThan(5_000)
    await banner.waitFor({ state: 'detached' })
    await page.close()
  }, 90_000)
})
