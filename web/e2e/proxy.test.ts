/**
 * The dashboard in Chromium through the real nginx and Caddy, configured from deploy/: it goes live
 * over WebSocket and shows a build posted through the proxy; with the proxy refusing upgrades it
 * goes live over SSE instead and still shows it.
 */
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest'
import type { Browser, Page } from 'playwright-core'
import type { TestServer } from '../../server/test/harness.ts'
import {
  CADDY,
  NGINX,
  refuseUpgrades,
  startProxy,
  type ProxyKind,
  type RunningProxy,
} from '../../server/test/proxies.ts'
import { hasChromium, launch, postBuild, startServer, waitForHead } from './helpers.ts'

const kinds: [ProxyKind, string | null][] = [
  ['nginx', NGINX],
  ['caddy', CADDY],
]

for (const [kind, bin] of kinds) {
  const suite = hasChromium && bin ? describe : describe.skip
  suite(`the live dashboard in Chromium behind ${kind}`, () => {
    let browser: Browser
    const servers: TestServer[] = []
    const proxies: RunningProxy[] = []
    const pages: Page[] = []

    beforeAll(async () => {
      browser = await launch()
    })
    afterEach(async () => {
      await Promise.all(pages.splice(0).map((p) => p.close()))
      await Promise.all(proxies.splice(0).map((p) => p.stop()))
      await Promise.all(servers.splice(0).map((s) => s.destroy()))
    })
    afterAll(async () => {
      await browser?.close()
    })

    async function setup(opts: Parameters<typeof startProxy>[2] = {}) {
      const s = await startServer({ TRUST_PROXY: 'true' })
      servers.push(s)
      const p = await startProxy(kind, s, opts)
      proxies.push(p)
      const page = await browser.newPage({ viewport: { width: 1366, height: 768 } })
      pages.push(page)
      page.on('pageerror', (e) => console.error('pageerror:', e.message))
      await page.goto(`${p.url}/`)
      return { s, p, page }
    }

    const statusOf = (page: Page, project: string) =>
      page.locator('[data-testid=tile]', { hasText: project }).getAttribute('data-status', { timeout: 10_000 })

    async function liveOver(page: Page): Promise<string | null> {
      const badge = page.locator('[data-testid=connection]')
      await expect.poll(() => badge.getAttribute('data-state'), { timeout: 20_000 }).toBe('live')
      return badge.getAttribute('data-transport')
    }

    it('goes live over WebSocket and shows a build posted through the proxy', async () => {
      const { s, p, page } = await setup()
      expect(await liveOver(page)).toBe('ws')
      await postBuild(p, { id: 'w1', project: 'acme/behind-proxy', branch: 'main', status: 'failure' })
      await expect.poll(() => statusOf(page, 'acme/behind-proxy')).toBe('failing')
      await waitForHead(page, s)
      // Still the WebSocket: the build came over it, not over a fallback.
      expect(await liveOver(page)).toBe('ws')
    })

    it('goes live over SSE when the proxy refuses the upgrade, and still shows the build', async () => {
      const { s, p, page } = await setup({ mutate: refuseUpgrades(kind) })
      expect(await liveOver(page)).toBe('sse')
      await postBuild(p, { id: 's1', project: 'acme/no-upgrades', branch: 'main', status: 'failure' })
      await expect.poll(() => statusOf(page, 'acme/no-upgrades')).toBe('failing')
      await waitForHead(page, s)
      expect(await liveOver(page)).toBe('sse')
    })
  })
}
