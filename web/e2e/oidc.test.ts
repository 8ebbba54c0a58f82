/**
 * Single sign-on end to end: a real OpenID Connect provider (`oidc-provider`, started here on
 * loopback), a real Radiator configured against it, and Chromium clicking through the provider's
 * own login and consent pages. An allowed user (by group) comes back signed in as admin, one by
 * verified e-mail domain as viewer; a user outside both is refused.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { createServer, type Server } from 'node:http'
import type { AddressInfo } from 'node:net'
import Provider from 'oidc-provider'
import type { Browser } from 'playwright-core'
import { hasChromium, launch, startServer } from './helpers.ts'
import type { TestServer } from '../../server/test/harness.ts'

const ACCOUNTS: Record<string, { email: string; groups: string[] }> = {
  ana: { email: 'ana@acme.example', groups: ['radiator-admins'] },
  bo: { email: 'bo@acme.example', groups: [] },
  mallory: { email: 'mallory@evil.example', groups: ['somewhere-else'] },
}

async function freePort(): Promise<number> {
  const s = createServer()
  await new Promise<void>((r) => s.listen(0, '127.0.0.1', () => r()))
  const port = (s.address() as AddressInfo).port
  await new Promise((r) => s.close(r))
  return port
}

describe.skipIf(!hasChromium)('single sign-on with OpenID Connect', () => {
  let idp: Server
  let radiator: TestServer
  let browser: Browser

  beforeAll(async () => {
    const port = await freePort()
    const issuer = `http://127.0.0.1:${port}`
    radiator = await startServer({
      PUBLIC_DASHBOARD: 'false',
      OIDC_ISSUER: issuer,
      OIDC_CLIENT_ID: 'radiator',
      OIDC_CLIENT_SECRET: 'a-client-secret-for-tests',
      OIDC_ALLOWED_DOMAINS: 'acme.example',
      OIDC_ADMIN_GROUPS: 'radiator-admins',
    })
    const provider = new Provider(issuer, {
      clients: [
        {
          client_id: 'radiator',
          client_secret: 'a-client-secret-for-tests',
          redirect_uris: [`${radiator.url}/auth/oidc/callback`],
          grant_types: ['authorization_code'],
          response_types: ['code'],
        },
      ],
      claims: { openid: ['sub', 'groups'], email: ['email', 'email_verified'], profile: ['name'] },
      findAccount: (_ctx, id) =>
        ACCOUNTS[id]
          ? {
              accountId: id,
              claims: () => ({
                sub: id,
                email: ACCOUNTS[id]!.email,
                email_verified: true,
                groups: ACCOUNTS[id]!.groups,
              }),
            }
          : undefined,
      features: { devInteractions: { enabled: true } },
      cookies: { keys: ['test-cookie-key'] },
    })
    idp = createServer(provider.callback())
    await new Promise<void>((r) => idp.listen(port, '127.0.0.1', () => r()))
    browser = await launch()
  }, 60_000)

  afterAll(async () => {
    await browser?.close()
    await radiator?.destroy()
    await new Promise((r) => idp?.close(r))
  })

  /** Signs in through the provider's own pages; returns the page where Radiator sends the browser. */
  async function signIn(user: string) {
    const context = await browser.newContext()
    const page = await context.newPage()
    await page.goto(`${radiator.url}/auth/oidc/login`)
    await page.locator('input[name="login"]').fill(user)
    await page.locator('input[name="password"]').fill('any password')
    await page.locator('button[type="submit"]').click()
    // Consent, when the provider asks for it.
    await page.waitForLoadState('load')
    if (page.url().includes('/interaction/')) await page.locator('button[type="submit"]').click()
    await page.waitForURL((u) => u.href.startsWith(radiator.url), { timeout: 15_000 })
    return { page, context }
  }

  it('signs in a member of an admin group as admin, and a verified e-mail in an allowed domain as viewer', async () => {
    const ana = await signIn('ana')
    const me = await ana.page.evaluate(() => fetch('/api/me').then((r) => r.json()))
    expect(me).toMatchObject({ signedIn: true, role: 'admin', subject: 'ana@acme.example', via: 'session' })
    const cookies = await ana.context.cookies()
    expect(cookies.find((c) => c.name === 'radiator_session')).toMatchObject({ httpOnly: true, sameSite: 'Lax' })
    await ana.context.close()

    const bo = await signIn('bo')
    expect(await bo.page.evaluate(() => fetch('/api/me').then((r) => r.json()))).toMatchObject({
      signedIn: true,
      role: 'viewer',
    })
    expect(await bo.page.evaluate(() => fetch('/api/admin/tokens').then((r) => r.status))).toBe(403)
    await bo.context.close()
  })

  it('refuses a user outside the allowed domains and groups', async () => {
    const { page, context } = await signIn('mallory')
    expect(await page.locator('h1').textContent()).toBe('Not allowed here')
    expect(await page.evaluate(() => fetch('/api/me').then((r) => r.json()))).toMatchObject({ signedIn: false })
    await context.close()
  })
})
