/**
 * The wall dashboard in Chromium, at TV size, on a cluster: three Radiator processes on PostgreSQL
 * and NATS JetStream behind nginx (deploy/cluster/nginx.conf). The board seeded through the proxy
 * shows on the TV; then two of the three instances are SIGKILLed, so whichever one the page was on,
 * it is on the third by the end: it must say it lost its connection, come back by itself, and show a
 * build posted after the kill — without a reload and without losing what it showed.
 */
import { afterAll, describe, expect, it } from 'vitest'
import type { Browser } from 'playwright-core'
import { testCluster, type TestCluster, type Member, threeBehindNginx } from '../../server/test/cluster.ts'
import { NGINX, type RunningProxy } from '../../server/test/proxies.ts'
import { until } from '../../server/test/harness.ts'
import { servicesUp } from '../../server/test/services.ts'
import { hasChromium, launch, postBuild, screenshotPath, seedWall, TOKEN } from './helpers.ts'

const up = servicesUp('postgres', 'nats')

describe.runIf(up && NGINX && hasChromium)('the wall on a three-instance cluster behind nginx', () => {
  let cluster: TestCluster
  let proxy: RunningProxy | undefined
  let browser: Browser | undefined
  const members: Member[] = []

  afterAll(async () => {
    await browser?.close()
    for (const m of members) m.child.kill('SIGKILL')
    await proxy?.stop()
    await cluster?.drop()
  })

  it('shows the board at 1920×1080, survives two of three instances dying, and shows what came after', {
    timeout: 180_000,
  }, async () => {
    cluster = await testCluster()
    ;({ proxy } = await threeBehindNginx(cluster, members, { GENERIC_WEBHOOK_TOKEN: TOKEN, LOG_LEVEL: 'warn' }))

    const seed = await seedWall(proxy)
    browser = await launch()
    const page = await browser.newPage({ viewport: { width: 1920, height: 1080 } })
    page.on('pageerror', (e) => console.error('pageerror:', e.message))
    await page.goto(`${proxy.url}/`)
    const badge = page.locator('[data-testid=connection]')
    await expect.poll(() => badge.getAttribute('data-state'), { timeout: 30_000 }).toBe('live')
    const tiles = page.locator('[data-testid=tile]')
    await expect.poll(() => tiles.count(), { timeout: 20_000 }).toBe(seed.all.length)
    await page.screenshot({ path: screenshotPath('cluster-wall-1920.png') })

    // Two of three die: the page was on one of them or on the survivor; either way it ends on the survivor.
    members[0]!.child.kill('SIGKILL')
    members[1]!.child.kill('SIGKILL')
    // As a CI would: a delivery nginx sent to an instance dying under it is answered 502, and redelivered.
    const after1 = { id: 'after-kill', project: 'acme/after-the-kill', branch: 'main', status: 'failure' } as const
    await until(
      () =>
        postBuild(proxy!, after1).then(
          () => true,
          () => false
        ),
      'the build delivered after the kill',
      30_000
    )
    const after = page.locator('[data-testid=tile]', { hasText: 'acme/after-the-kill' })
    await expect.poll(() => after.getAttribute('data-status'), { timeout: 40_000 }).toBe('failing')
    await expect.poll(() => badge.getAttribute('data-state'), { timeout: 30_000 }).toBe('live')
    // Nothing it showed before is gone, and nothing came twice.
    expect(await tiles.count()).toBe(seed.all.length + 1)
    await page.screenshot({ path: screenshotPath('cluster-wall-after-kill-1920.png') })
  })
})
