/**
 * @module Route access declarations and the credential check behind them. A route is declared with
 * its level as its first handler — `app.get('/builds', access.viewer, handler)` — and the
 * route-table test reads that marker back from the app, so the declaration and the check are one
 * thing. Credentials, tried in order: `Authorization: Bearer <token>` (an API token, ADMIN_TOKEN,
 * METRICS_TOKEN, METRICS_SCRAPE_TOKEN), `Authorization: Basic` with the token as password (how cctray clients send one),
 * the session cookie, the trusted auth proxy's header; then PUBLIC_DASHBOARD / PUBLIC_FEEDS.
 */
import type { Context, MiddlewareHandler } from 'hono'
import { getCookie } from 'hono/cookie'
import type { Config } from '../config.ts'
import { AppError } from '../errors.ts'
import { clientIp } from '../http/client-ip.ts'
import { RateLimiter } from '../http/rate-limit.ts'
import type { Credentials } from './credentials.ts'
import { allows, type AccessLevel, type Role } from './roles.ts'
import { credentialFrom, secretIn } from '../http/auth.ts'

export const SESSION_COOKIE = 'radiator_session'

/** Who is asking. `id` names the credential (for revocation); null for anonymous. */
export interface Principal {
  role: Role | null
  id: string | null
  subject: string
  via: 'token' | 'session' | 'env' | 'proxy' | 'anonymous'
  /** For a session: browser or screen. */
  kind?: 'browser' | 'screen'
  /** A credential was presented and is not valid (wrong, revoked, expired): counts as a failure. */
  failed?: boolean
  /** The cookie's value, for a session (to renew the cookie's lifetime). */
  cookie?: string
  /** METRICS_SCRAPE_TOKEN: no role, only GET /metrics. */
  scraper?: true
}

/** Failed credential checks (a wrong token, a revoked cookie) accepted per client address per minute. */
export const AUTH_FAILURES_PER_MINUTE = 30

const ANONYMOUS: Principal = { role: null, id: null, subject: 'anonymous', via: 'anonymous' }
const FAILED: Principal = { ...ANONYMOUS, failed: true }

export class AccessControl {
  /** Guessing tokens or replaying dead cookies is cut short per address (429). */
  readonly failures = new RateLimiter(AUTH_FAILURES_PER_MINUTE)

  constructor(
    private config: Config,
    readonly credentials: Credentials
  ) {}

  /** The client's address, as the rate limits count it. */
  address(c: Context): string {
    return clientIp(c, this.config.TRUST_PROXY)
  }

  /** The principal behind a request; an unusable credential counts as none. */
  principal(c: Context): Principal {
    const auth = c.req.header('authorization')
    if (auth) {
      const secret = credentialFrom(auth)
      return secret === null ? FAILED : this.bySecret(secret)
    }
    const cookie = getCookie(c, SESSION_COOKIE)
    if (cookie) {
      const s = this.credentials.session(cookie)
      if (s) return { role: s.role, id: s.id, subject: s.subject, via: 'session', kind: s.kind, cookie }
      return FAILED
    }
    const proxied = this.proxyUser(c)
    if (proxied) return proxied
    return ANONYMOUS
  }

  private bySecret(secret: string): Principal {
    if (secretIn(secret, this.config.ADMIN_TOKEN))
      return { role: 'admin', id: 'env:ADMIN_TOKEN', subject: 'ADMIN_TOKEN', via: 'env' }
    if (secretIn(secret, this.config.METRICS_TOKEN))
      return { role: 'metrics-push', id: 'env:METRICS_TOKEN', subject: 'METRICS_TOKEN', via: 'env' }
    if (secretIn(secret, this.config.METRICS_SCRAPE_TOKEN))
      return { role: null, id: 'env:METRICS_SCRAPE_TOKEN', subject: 'METRICS_SCRAPE_TOKEN', via: 'env', scraper: true }
    const t = this.credentials.token(secret)
    return t ? { role: t.role, id: t.id, subject: t.name, via: 'token' } : FAILED
  }

  /** The auth proxy's user header, believed only from AUTH_PROXY_TRUSTED peers. */
  private proxyUser(c: Context): Principal | null {
    const header = this.config.AUTH_PROXY_HEADER
    if (!header) return null
    const user = c.req.header(header)?.trim()
    if (!user) return null
    // The socket peer, never X-Forwarded-For: the proxy itself is what must be trusted.
    const peer = clientIp(c, false).replace(/^::ffff:/, '')
    if (!this.config.AUTH_PROXY_TRUSTED.includes(peer)) return null
    const admin = this.config.AUTH_PROXY_ADMINS.includes(user.toLowerCase())
    return { role: admin ? 'admin' : 'viewer', id: `proxy:${user}`, subject: user.slice(0, 200), via: 'proxy' }
  }

  permits(p: Principal, level: AccessLevel): boolean {
    if (allows(p.role, level) || (p.scraper && level === 'scrape')) return true
    if (p.role !== null) return false
    return (
      ((level === 'viewer' || level === 'scrape') && this.config.PUBLIC_DASHBOARD) ||
      (level === 'feed' && (this.config.PUBLIC_FEEDS || this.config.PUBLIC_DASHBOARD))
    )
  }
}

export const ACCESS = Symbol('access')
/** Marks app-wide middleware (not a route): the route-table walk skips it. */
export const APP_WIDE = Symbol('app-wide')

export type Guard = MiddlewareHandler & { [ACCESS]: AccessLevel }

function guard(level: AccessLevel): Guard {
  const check: MiddlewareHandler = async (c, next) => {
    if (level !== 'public') {
      const ac = c.get('access' as never) as AccessControl | undefined
      if (!ac) throw new Error('access control is not installed (app.ts)')
      const p = ac.principal(c)
      if (p.failed && !ac.failures.take(ac.address(c)))
        throw new AppError(
          'TOO_MANY_REQUESTS',
          'too many failed credential checks from this address; try again in a minute'
        )
      if (!ac.permits(p, level)) {
        const challenge = level === 'feed' ? 'Basic realm="Radiator", charset="UTF-8"' : 'Bearer realm="Radiator"'
        c.header('www-authenticate', challenge)
        if (p.role === null)
          throw new AppError(
            'UNAUTHORIZED',
            level === 'push'
              ? 'send Authorization: Bearer <token>: a metrics-push token, or one of METRICS_TOKEN'
              : level === 'scrape'
                ? 'send Authorization: Bearer <token>: one of METRICS_SCRAPE_TOKEN, or a viewer token'
                : 'sign in first: a session cookie, or Authorization: Bearer <token>'
          )
        throw new AppError(
          'FORBIDDEN',
          `this needs the ${level === 'feed' || level === 'scrape' ? 'viewer' : level} role`
        )
      }
      c.set('principal' as never, p as never)
    }
    await next()
  }
  return Object.assign(check, { [ACCESS]: level })
}

/** The one way a route says who may use it. */
export const access = {
  public: guard('public'),
  viewer: guard('viewer'),
  feed: guard('feed'),
  push: guard('push'),
  scrape: guard('scrape'),
  admin: guard('admin'),
} as const

/** The principal a guard let through (anonymous on public routes). */
export function principalOf(c: Context): Principal {
  return (c.get('principal' as never) as Principal | undefined) ?? ANONYMOUS
}

/** App-wide middleware that makes the access control available to every guard. */
export function installAccess(ac: AccessControl): MiddlewareHandler {
  const mw: MiddlewareHandler = async (c, next) => {
    c.set('access' as never, ac as never)
    await next()
  }
  return Object.assign(mw, { [APP_WIDE]: true })
}
