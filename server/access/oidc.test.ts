/**
 * A single sign-on started on one instance and finished on another: the IdP's redirect back may reach
 * any instance behind the load balancer, so a sign-in in progress lives in the browser's cookie, not
 * in the memory of the instance it started on. (The whole flow through a real provider and browser is
 * web/e2e/oidc.test.ts.)
 */
import { createServer, type Server } from 'node:http'
import type { AddressInfo } from 'node:net'
import Provider from 'oidc-provider'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { perTest } from '../test/harness.ts'

describe('single sign-on across instances', () => {
  const t = perTest()
  let idp: Server
  let issuer: string
  beforeAll(async () => {
    idp = createServer()
    await new Promise<void>((r) => idp.listen(0, '127.0.0.1', () => r()))
    issuer = `http://127.0.0.1:${(idp.address() as AddressInfo).port}`
    const provider = new Provider(issuer, {
      clients: [{ client_id: 'radiator', client_secret: 's', redirect_uris: ['http://127.0.0.1/cb'] }],
      cookies: { keys: ['test-cookie-key'] },
    })
    idp.on('request', provider.callback())
  })
  afterAll(async () => {
    await new Promise((r) => idp?.close(r))
  })

  it('takes the callback of a sign-in started on another instance, and refuses one with no or a forged flow', async () => {
    const env = {
      PUBLIC_DASHBOARD: 'false',
      OIDC_ISSUER: issuer,
      OIDC_CLIENT_ID: 'radiator',
      OIDC_CLIENT_SECRET: 's',
      OIDC_ALLOWED_DOMAINS: 'acme.example',
    }
    const a = await t.server(env)
    const b = await t.server(env)
    const login = await fetch(`${a.url}/auth/oidc/login?returnTo=/tv`, { redirect: 'manual' })
    expect(login.status).toBe(302)
    const state = new URL(login.headers.get('location')!).searchParams.get('state')!
    const cookie = login.headers.get('set-cookie')!.split(';')[0]!
    const callback = (headers: Record<string, string>) =>
      fetch(`${b.url}/auth/oidc/callback?code=not-a-real-code&state=${state}`, { headers, redirect: 'manual' })
    // B knows the sign-in: it goes on to the code exchange, which the provider refuses (the code is made up).
    const res = await callback({ cookie })
    expect(await res.text()).toMatch(/Sign-in failed/)
    expect(res.headers.get('set-cookie')).toMatch(/radiator_oidc=;/) // used once
    expect(await (await callback({})).text()).toMatch(/Sign-in expired/)
    const forged = Buffer.from(JSON.stringify({ returnTo: 'https://evil.example/' })).toString('base64url')
    expect(await (await callback({ cookie: `radiator_oidc=${forged}` })).text()).toMatch(/Sign-in expired/)
  })
})
