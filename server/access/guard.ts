/**
 * @module Route access declarations and the credential check behind them. A route is declared with
 * its level as its first handler — `app.get('/builds', access.viewer, handler)` — and the
 * route-table test reads that marker back from the app, so the declaration and the check are one
 * thing. Credentials, tried in order: `Authorization: Bearer <token>` (an API token, ADMIN_TOKEN,
 * METRICS_TOKEN, METRICS_SCRAPE_TOKEN), `Authorization: Basic` with the token as password (how cctray clients send one),
 * the session cookie, the trusted auth proxy's header; then PUBLIC_DASHBOARD / PUBLIC_FEEDS.
 */
import type { Context, MiddlewareHandler } from 'hono'
import { parse as parseCookies } from 'hono/utils/cookie'
import type { IncomingMessage } from 'node:http'
import type { Config } from '../config.ts'
import { AppError } from '../errors.ts'
import { clientIp, clientIpOf } from '../http/client-ip.ts'
import { headerOf } from '../http/node-routes.ts'
import { RateLimiter, SharedRateLimiter } from '../http/rate-limit.ts'
import type { Bus } from '../cluster/bus.ts'
import type { Credentials } from './credentials.ts'
import { allows, type AccessLevel, type Role } from './roles.ts'
import { credentialFrom, secretIn } from '../http/auth.ts'
import { hashSecret } from './secrets.ts'

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

/** What the credential check reads of a request, through Hono or on Node's own (a node route). */
interface Asking {
  header(name: string): string | undefined
  /** The socket peer (never X-Forwarded-For). */
  peer(): string
}

const askingOf = (c: Context): Asking => ({ header: (name) => c.req.header(name), peer: () => clientIp(c, false) })
const askingOfRequest = (req: IncomingMessage): Asking => ({
  header: (name) => headerOf(req, name),
  peer: () => clientIpOf(req, false),
})

export class AccessControl {
  /** Guessing tokens or replaying dead cookies is cut short per address (429), cluster-wide given the bus. */
  readonly failures: Pick<RateLimiter, 'take' | 'available'>

  constructor(
    private config: Config,
    readonly credentials: Credentials,
    bus?: Bus
  ) {
    this.failures = bus
      ? new SharedRateLimiter(bus, 'auth-failures', AUTH_FAILURES_PER_MINUTE)
      : new RateLimiter(AUTH_FAILURES_PER_MINUTE)
  }

  /** The client's address, as the rate limits count it. */
  address(c: Context): string {
    return clientIp(c, this.config.TRUST_PROXY)
  }

  /** The principal behind a request; an unusable credential counts as none. */
  principal(c: Context): Principal {
    return this.principalOf(askingOf(c))
  }

  /** The same for a request answered on Node's own request and response (http/node-routes.ts). */
  principalOfRequest(req: IncomingMessage): Principal {
    return this.principalOf(askingOfRequest(req))
  }

  /**
   * As `principal`, but a credential this instance has not heard of is first looked for in the
   * database: in a cluster it may have been made on another instance a moment ago (a screen paired
   * there asks here next), its announcement still on the way. Costs a read only for a failed check
   * and only while the address has failures left, so a guesser costs nothing more. On SQLite the
   * check reads the database already, and this answers what `principal` answers.
   */
  async principalChecked(c: Context): Promise<Principal> {
    const p = this.principal(c)
    return p.failed && this.rechecks ? this.recheck(askingOf(c), () => this.address(c)) : p
  }

  /** `principalChecked` for a request answered on Node's own (the long poll). */
  async principalOfRequestChecked(req: IncomingMessage, trustProxy: boolean): Promise<Principal> {
    const p = this.principalOfRequest(req)
    return p.failed && this.rechecks ? this.recheck(askingOfRequest(req), () => clientIpOf(req, trustProxy)) : p
  }

  /** Whether a credential missing from this instance's reads may still be in the database (PostgreSQL). */
  get rechecks(): boolean {
    return !!this.credentials.rows.fetchByHash
  }

  private async recheck(q: Asking, address: () => string): Promise<Principal> {
    if (!this.failures.available(address())) return FAILED
    const auth = q.header('authorization')
    const cookies = q.header('cookie')
    const secret = auth
      ? credentialFrom(auth)
      : cookies
        ? parseCookies(cookies, SESSION_COOKIE)[SESSION_COOKIE]
        : undefined
    // Only what this Radiator could have issued (newSecret's prefixes) is looked for.
    const table = auth
      ? secret?.startsWith('rad_')
        ? 'api_tokens'
        : null
      : secret?.startsWith('ras_')
        ? 'sessions'
        : null
    if (!secret || !table) return FAILED
    await this.credentials.rows.fetchByHash!(table, hashSecret(secret))
    return this.principalOf(q)
  }

  private principalOf(q: Asking): Principal {
    const auth = q.header('authorization')
    if (auth) {
      const secret = credentialFrom(auth)
      return secret === null ? FAILED : this.bySecret(secret)
    }
    const cookies = q.header('cookie')
    const cookie = cookies ? parseCookies(cookies, SESSION_COOKIE)[SESSION_COOKIE] : undefined
    if (cookie) {
      const s = this.credentials.session(cookie)
      if (s) return { role: s.role, id: s.id, subject: s.subject, via: 'session', kind: s.kind, cookie }
      return FAILED
    }
    const proxied = this.proxyUser(q)
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
  private proxyUser(q: Asking): Principal | null {
    const header = this.config.AUTH_PROXY_HEADER
    if (!header) return null
    const user = q.header(header.toLowerCase())?.trim()
    if (!user) return null
    // The socket peer, never X-Forwarded-For: the proxy itself is what must be trusted.
    const peer = q.peer().replace(/^::ffff:/, '')
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

  /**
   * Why `p` may not use a route of `level` (401 with a challenge, 403, or 429 once its address has
   * failed too often), or null when it may. `address` is read only for a failed credential.
   */
  refusal(p: Principal, level: AccessLevel, address: () => string): AppError | null {
    if (p.failed && !this.failures.take(address()))
      return new AppError(
        'TOO_MANY_REQUESTS',
        'too many failed credential checks from this address; try again in a minute'
      )
    if (this.permits(p, level)) return null
    const challenge = {
      'www-authenticate': level === 'feed' ? 'Basic realm="Radiator", charset="UTF-8"' : 'Bearer realm="Radiator"',
    }
    if (p.role !== null)
      return new AppError(
        'FORBIDDEN',
        `this needs the ${level === 'feed' || level === 'scrape' ? 'viewer' : level} role`,
        undefined,
        challenge
      )
    return new AppError(
      'UNAUTHORIZED',
      level === 'push'
        ? 'send Authorization: Bearer <token>: a metrics-push token, or one of METRICS_TOKEN'
        : level === 'scrape'
          ? 'send Authorization: Bearer <token>: one of METRICS_SCRAPE_TOKEN, or a viewer token'
          : 'sign in first: a session cookie, or Authorization: Bearer <token>',
      undefined,
      challenge
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
      let p = ac.principal(c)
      if (p.failed && ac.rechecks) p = await ac.principalChecked(c)
      const refused = ac.refusal(p, level, () => ac.address(c))
      if (refused) throw refused
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
