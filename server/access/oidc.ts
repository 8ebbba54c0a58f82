/**
 * @module Single sign-on with OpenID Connect, through openid-client (authorization code flow with
 * PKCE, state and nonce; the ID token's signature, issuer, audience and nonce checked by the
 * library). Who may sign in is configured: verified e-mail domains and/or groups from a claim,
 * admin groups mapped to the admin role. A signed-in user gets the same session cookie as any other
 * sign-in. The issuer is discovered at the first sign-in, so Radiator starts while the IdP is down.
 */
import { Hono, type Context } from 'hono'
import { deleteCookie, getCookie, setCookie } from 'hono/cookie'
import * as client from 'openid-client'
import { z } from 'zod'
import type { Config } from '../config.ts'
import { clientIp } from '../http/client-ip.ts'
import type { Credentials } from './credentials.ts'
import { access } from './guard.ts'
import { secureCookies, setSessionCookie } from './routes.ts'
import type { SessionRole } from './roles.ts'

const FLOW_COOKIE = 'radiator_oidc'
/** A sign-in started and not finished within this long starts over. */
const FLOW_TTL_MS = 10 * 60_000

/**
 * A sign-in in progress, kept in the browser's own HttpOnly cookie rather than in memory: in a
 * cluster the IdP's redirect back may reach another instance than the one the sign-in started on.
 * Nothing in it is a secret from that browser (the PKCE verifier, state and nonce only bind the
 * callback to the browser that started it), and the server keeps nothing per sign-in, so a flood of
 * started sign-ins costs no memory.
 */
/** Only a path on this Radiator: never an open redirect (checked again when read back from the cookie). */
const LOCAL_PATH = /^\/(?!\/)[^\s\\]{0,1999}$/
const flowShape = z.object({
  verifier: z.string().max(200),
  state: z.string().max(200),
  nonce: z.string().max(200),
  returnTo: z.string().regex(LOCAL_PATH),
  expiresAt: z.number(),
})
type Flow = z.infer<typeof flowShape>

const flowCookie = (f: Flow) => Buffer.from(JSON.stringify(f)).toString('base64url')
function flowOf(cookie: string | undefined): Flow | undefined {
  if (!cookie || cookie.length > 4000) return undefined
  try {
    return flowShape.parse(JSON.parse(Buffer.from(cookie, 'base64url').toString('utf8')))
  } catch {
    return undefined
  }
}

/** The role a user's claims give, or why they may not sign in. */
export function roleFor(config: Config, claims: Record<string, unknown>): { role: SessionRole } | { refused: string } {
  const raw = claims[config.OIDC_GROUPS_CLAIM]
  const groups = new Set(
    Array.isArray(raw) ? raw.filter((g): g is string => typeof g === 'string') : typeof raw === 'string' ? [raw] : []
  )
  if (config.OIDC_ADMIN_GROUPS.some((g) => groups.has(g))) return { role: 'admin' }
  if (config.OIDC_VIEWER_GROUPS.some((g) => groups.has(g))) return { role: 'viewer' }
  const email = typeof claims.email === 'string' ? claims.email.toLowerCase() : ''
  // An unverified address proves nothing: anyone can type any e-mail into some IdPs.
  if (
    email &&
    claims.email_verified === true &&
    config.OIDC_ALLOWED_DOMAINS.includes(email.slice(email.lastIndexOf('@') + 1))
  )
    return { role: 'viewer' }
  return {
    refused: email
      ? `${email} is not in an allowed domain or group`
      : 'the identity provider sent no usable e-mail or group',
  }
}

const page = (title: string, text: string) =>
  `<!doctype html><meta charset="utf-8"><title>${title}</title><style>body{font:20px/1.5 system-ui,sans-serif;background:#111;color:#eee;display:grid;place-items:center;min-height:90vh}</style><main><h1>${title}</h1><p>${text}</p><p><a style="color:#8cf" href="/">Back</a></p></main>`
const escapeHtml = (s: string) => s.replace(/[<>&"']/g, (c) => `&#${c.charCodeAt(0)};`)

export function oidcRoutes(deps: { config: Config; credentials: Credentials }) {
  const { config, credentials } = deps
  const app = new Hono()
  if (!config.OIDC_ISSUER) return app
  const issuer = new URL(config.OIDC_ISSUER)
  let discovered: Promise<client.Configuration> | undefined
  const configuration = () =>
    (discovered ??= client
      .discovery(issuer, config.OIDC_CLIENT_ID!, config.OIDC_CLIENT_SECRET!, undefined, {
        // http only for a loopback issuer (tests, a local IdP); config.ts refuses any other.
        execute: issuer.protocol === 'http:' ? [client.allowInsecureRequests] : [],
      })
      .catch((e) => {
        discovered = undefined // try again at the next sign-in
        throw e
      }))
  const base = (c: Context) => config.PUBLIC_URL?.replace(/\/$/, '') ?? new URL(c.req.url).origin

  app.get('/auth/oidc/login', access.public, async (c) => {
    let cfg: client.Configuration
    try {
      cfg = await configuration()
    } catch {
      return c.html(
        page('Single sign-on is unavailable', 'The identity provider could not be reached. Try again in a minute.'),
        503
      )
    }
    const now = Date.now()
    const flow: Flow = {
      verifier: client.randomPKCECodeVerifier(),
      state: client.randomState(),
      nonce: client.randomNonce(),
      returnTo: LOCAL_PATH.test(c.req.query('returnTo') ?? '') ? c.req.query('returnTo')! : '/',
      expiresAt: now + FLOW_TTL_MS,
    }
    setCookie(c, FLOW_COOKIE, flowCookie(flow), {
      httpOnly: true,
      sameSite: 'Lax',
      secure: secureCookies(c, config),
      path: '/auth/oidc',
      maxAge: FLOW_TTL_MS / 1000,
    })
    const url = client.buildAuthorizationUrl(cfg, {
      redirect_uri: `${base(c)}/auth/oidc/callback`,
      scope: `openid email profile`,
      code_challenge: await client.calculatePKCECodeChallenge(flow.verifier),
      code_challenge_method: 'S256',
      state: flow.state,
      nonce: flow.nonce,
    })
    return c.redirect(url.href, 302)
  })

  app.get('/auth/oidc/callback', access.public, async (c) => {
    c.header('cache-control', 'no-store')
    const flow = flowOf(getCookie(c, FLOW_COOKIE))
    deleteCookie(c, FLOW_COOKIE, { path: '/auth/oidc' })
    if (!flow || flow.expiresAt < Date.now())
      return c.html(page('Sign-in expired', 'Start again from the sign-in page.'), 400)
    let claims: Record<string, unknown>
    try {
      const cfg = await configuration()
      // The callback URL as the IdP redirected to it, on the public base (behind a proxy too).
      const current = new URL(`${base(c)}/auth/oidc/callback${new URL(c.req.url).search}`)
      const tokens = await client.authorizationCodeGrant(cfg, current, {
        pkceCodeVerifier: flow.verifier,
        expectedState: flow.state,
        expectedNonce: flow.nonce,
      })
      claims = { ...(tokens.claims() ?? {}) }
      if (claims.email === undefined || claims[config.OIDC_GROUPS_CLAIM] === undefined) {
        const info = await client.fetchUserInfo(cfg, tokens.access_token, String(claims.sub))
        claims = { ...info, ...claims }
      }
    } catch (e) {
      return c.html(
        page('Sign-in failed', escapeHtml(e instanceof Error ? e.message : 'the identity provider refused')),
        400
      )
    }
    const verdict = roleFor(config, claims)
    if ('refused' in verdict)
      return c.html(
        page('Not allowed here', `${escapeHtml(verdict.refused)}. Ask an admin to add your domain or group.`),
        403
      )
    const subject = typeof claims.email === 'string' ? claims.email : String(claims.preferred_username ?? claims.sub)
    const s = await credentials.createSession({
      kind: 'browser',
      role: verdict.role,
      subject,
      userAgent: c.req.header('user-agent'),
      address: clientIp(c, config.TRUST_PROXY),
    })
    setSessionCookie(c, config, s.secret, 'browser')
    return c.redirect(flow.returnTo, 303)
  })
  return app
}
