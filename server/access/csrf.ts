/**
 * @module Cross-site request forgery and cross-site WebSocket hijacking. A write that a browser
 * authenticates by cookie must come from a page of Radiator's own origin. Hono's `csrf` middleware
 * only checks form-style content types; this checks every unsafe method that carries the session
 * cookie, and the WebSocket upgrade (which browsers send cross-site with cookies and no CORS).
 * Requests authenticated by an Authorization header (scripts, CI, cctray clients) are not ambient
 * credentials and are not checked.
 */
import type { Context, MiddlewareHandler } from 'hono'
import { getCookie } from 'hono/cookie'
import type { Config } from '../config.ts'
import { AppError } from '../errors.ts'
import { APP_WIDE, SESSION_COOKIE } from './guard.ts'

const SAFE = new Set(['GET', 'HEAD', 'OPTIONS'])

/** Whether the request's Origin (or Sec-Fetch-Site) says it comes from Radiator's own pages. */
export function sameOrigin(c: Context, config: Config): boolean {
  const origin = c.req.header('origin')
  if (!origin || origin === 'null') {
    // No Origin: not a browser's cross-site request, unless the browser says otherwise.
    const site = c.req.header('sec-fetch-site')
    return !site || site === 'same-origin' || site === 'none' || origin !== 'null'
  }
  const own = new Set<string>()
  if (config.PUBLIC_URL) own.add(new URL(config.PUBLIC_URL).origin)
  const host = c.req.header('host')
  if (host) {
    const proto = config.TRUST_PROXY
      ? (c.req.header('x-forwarded-proto') ?? new URL(c.req.url).protocol.slice(0, -1))
      : new URL(c.req.url).protocol.slice(0, -1)
    own.add(`${proto}://${host}`)
  }
  return own.has(origin)
}

export function csrfGuard(config: Config): MiddlewareHandler {
  const mw: MiddlewareHandler = async (c, next) => {
    const upgrade = c.req.header('upgrade')?.toLowerCase() === 'websocket'
    const cookieWrite =
      !SAFE.has(c.req.method) && !c.req.header('authorization') && getCookie(c, SESSION_COOKIE) !== undefined
    if ((upgrade || cookieWrite) && !sameOrigin(c, config))
      throw new AppError(
        'FORBIDDEN',
        upgrade
          ? 'cross-site WebSocket refused (Origin is not this Radiator)'
          : 'cross-site request refused (Origin is not this Radiator)'
      )
    await next()
  }
  return Object.assign(mw, { [APP_WIDE]: true })
}
