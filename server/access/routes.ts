/**
 * @module Signing in and managing credentials: the first-start sign-in link, exchanging a token
 * for a browser session, signing out, who am I, and the admin's tokens and sessions.
 */
import { Hono, type Context } from 'hono'
import { deleteCookie, getCookie, setCookie } from 'hono/cookie'
import { z } from 'zod'
import type { TokenInfo } from '../../contract/access.ts'
import type { Config } from '../config.ts'
import { AppError } from '../errors.ts'
import { clientIp } from '../http/client-ip.ts'
import { SharedRateLimiter } from '../http/rate-limit.ts'
import type { Bus } from '../cluster/bus.ts'
import type { Credentials } from './credentials.ts'
import { BROWSER_SESSION_IDLE_MS } from './credentials.ts'
import { access, principalOf, SESSION_COOKIE, type AccessControl } from './guard.ts'
import { ROLES } from './roles.ts'

/** Failed sign-in attempts (links, tokens) accepted per client address per minute. */
export const SIGNIN_FAILURES_PER_MINUTE = 10
/** Chrome caps cookie lifetimes at 400 days; a screen's cookie is renewed as it is used. */
export const SCREEN_COOKIE_MAX_AGE_S = 400 * 86_400

export function secureCookies(c: Context, config: Config): boolean {
  if (config.PUBLIC_URL?.startsWith('https:')) return true
  return config.TRUST_PROXY && c.req.header('x-forwarded-proto') === 'https'
}

/** Sets the session cookie: HttpOnly, SameSite=Lax, Secure whenever Radiator is reached over https. */
export function setSessionCookie(c: Context, config: Config, secret: string, kind: 'browser' | 'screen'): void {
  setCookie(c, SESSION_COOKIE, secret, {
    httpOnly: true,
    sameSite: 'Lax',
    secure: secureCookies(c, config),
    path: '/',
    maxAge: kind === 'screen' ? SCREEN_COOKIE_MAX_AGE_S : BROWSER_SESSION_IDLE_MS / 1000,
  })
}

const newToken = z.object({
  name: z.string().trim().min(1).max(100),
  role: z.enum(ROLES),
})
const tokenLogin = z.object({ token: z.string().min(1).max(512) })
const idParam = z.string().regex(/^[a-z]{3}_[A-Za-z0-9_-]{1,32}$/, 'not a credential id')

const page = (title: string, body: string) =>
  `<!doctype html><meta charset="utf-8"><meta name="viewport" content="width=device-width"><title>${title}</title>` +
  `<style>body{font:20px/1.5 system-ui,sans-serif;background:#111;color:#eee;display:grid;place-items:center;min-height:90vh;margin:0}main{max-width:36em;padding:1em}a{color:#8cf}</style>` +
  `<main><h1>${title}</h1>${body}</main>`

export function accessRoutes(deps: { config: Config; credentials: Credentials; control: AccessControl; bus: Bus }) {
  const { config, credentials, control } = deps
  const app = new Hono()
  const failures = new SharedRateLimiter(deps.bus, 'signin-failures', SIGNIN_FAILURES_PER_MINUTE)
  /** Counts a failed attempt; throws 429 once an address has used up its allowance. */
  const failed = (c: Context) => {
    if (!failures.take(clientIp(c, config.TRUST_PROXY)))
      throw new AppError('TOO_MANY_REQUESTS', 'too many failed sign-in attempts; try again in a minute')
  }

  // The first-start link (or any link an admin hands out): used once, then the address bar is clean.
  app.get('/signin', access.public, async (c) => {
    c.header('cache-control', 'no-store')
    c.header('referrer-policy', 'no-referrer')
    const secret = c.req.query('token') ?? ''
    const role = secret ? await credentials.consumeSigninLink(secret) : null
    if (!role || role === 'metrics-push') {
      failed(c)
      return c.html(
        page(
          'This sign-in link no longer works',
          '<p>It was used already or has expired. Restart Radiator with no admin signed in for a new one, or ask an admin for a token.</p>'
        ),
        401
      )
    }
    const s = await credentials.createSession({
      kind: 'browser',
      role,
      subject: 'sign-in link',
      userAgent: c.req.header('user-agent'),
      address: clientIp(c, config.TRUST_PROXY),
    })
    setSessionCookie(c, config, s.secret, 'browser')
    // 303 to the board: the history entry is the clean URL, so the link is not kept anywhere.
    return c.redirect('/', 303)
  })

  /** A laptop signs in with an API token (viewer or admin); the token itself is not kept by the browser. */
  app.post('/auth/session', access.public, async (c) => {
    const body = tokenLogin.parse(await c.req.json().catch(() => ({})))
    const token = credentials.token(body.token)
    if (!token || token.role === 'metrics-push') {
      failed(c)
      throw new AppError('UNAUTHORIZED', 'unknown or revoked token (a viewer or admin token signs in)')
    }
    const s = await credentials.createSession({
      kind: 'browser',
      role: token.role,
      subject: token.name,
      userAgent: c.req.header('user-agent'),
      address: clientIp(c, config.TRUST_PROXY),
      fromToken: token.id,
    })
    setSessionCookie(c, config, s.secret, 'browser')
    return c.json({ role: token.role, subject: token.name })
  })

  app.post('/auth/signout', access.public, async (c) => {
    const cookie = getCookie(c, SESSION_COOKIE)
    const s = cookie ? credentials.session(cookie) : undefined
    if (s) await credentials.revokeSession(s.id)
    deleteCookie(c, SESSION_COOKIE, { path: '/', secure: secureCookies(c, config) })
    return c.json({ signedOut: true })
  })

  /** Public, so a page can tell "signed out" from "server down"; says nothing to an anonymous caller. */
  app.get('/api/me', access.public, async (c) => {
    // Checked against the database before a missing session's cookie is deleted (in a cluster it
    // may have been made on another instance a moment ago).
    const p = await control.principalChecked(c)
    c.header('cache-control', 'no-store')
    // A session's cookie is renewed whenever the page asks who it is (a TV does daily), so a
    // screen's never runs out while it is on; a dead cookie is removed.
    if (p.via === 'session' && p.cookie) setSessionCookie(c, config, p.cookie, p.kind ?? 'browser')
    else if (p.failed && getCookie(c, SESSION_COOKIE))
      deleteCookie(c, SESSION_COOKIE, { path: '/', secure: secureCookies(c, config) })
    if (p.role === null)
      return c.json({ signedIn: false, publicDashboard: config.PUBLIC_DASHBOARD, sso: !!config.OIDC_ISSUER })
    return c.json({
      signedIn: true,
      role: p.role,
      subject: p.subject,
      via: p.via,
      kind: p.kind ?? null,
      publicDashboard: config.PUBLIC_DASHBOARD,
    })
  })

  app.get('/api/admin/tokens', access.admin, (c) => c.json({ tokens: credentials.listTokens() satisfies TokenInfo[] }))
  app.post('/api/admin/tokens', access.admin, async (c) => {
    const body = newToken.parse(await c.req.json().catch(() => ({})))
    const t = await credentials.createToken(body.name, body.role)
    // The secret is shown this once; only its hash is stored.
    return c.json({ id: t.id, name: body.name, role: body.role, token: t.secret }, 201)
  })
  app.delete('/api/admin/tokens/:id', access.admin, async (c) => {
    const id = idParam.parse(c.req.param('id'))
    if (!(await credentials.revokeToken(id))) throw new AppError('NOT_FOUND', 'no such active token')
    return c.json({ revoked: id })
  })
  app.get('/api/admin/sessions', access.admin, (c) =>
    c.json({ sessions: credentials.listSessions(), you: principalOf(c).id })
  )
  app.delete('/api/admin/sessions/:id', access.admin, async (c) => {
    const id = idParam.parse(c.req.param('id'))
    if (!(await credentials.revokeSession(id))) throw new AppError('NOT_FOUND', 'no such active session')
    return c.json({ revoked: id })
  })
  return app
}
