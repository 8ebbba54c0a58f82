/**
 * @module Pairing a screen and steering it: the screen's side (ask for a code, wait for approval,
 * the QR code of the approval URL) and the admin's (see a code's request, approve it with a name
 * and a view; list screens; identify, reload, show, rename, revoke). Actions reach the screen over
 * its live connection, whichever transport it uses.
 */
import { Hono, type Context } from 'hono'
import { renderSVG } from 'uqr'
import { z } from 'zod'
import type { PairingRequest, PairingStarted, ScreenInfo, ScreenRow } from '../../contract/access.ts'
import type { Config } from '../config.ts'
import { AppError } from '../errors.ts'
import { clientIp } from '../http/client-ip.ts'
import { SharedRateLimiter } from '../http/rate-limit.ts'
import type { Bus } from '../cluster/bus.ts'
import type { ScreenLinks } from './screen-links.ts'
import type { Credentials } from './credentials.ts'
import { access, principalOf } from './guard.ts'
import { CODE_PATTERN, normalizeCode, type Pairings } from './pairing.ts'
import { setSessionCookie } from './routes.ts'
import type { Screens } from './screens.ts'

/** New pairing codes per client address per minute (a screen asks for one every 10 minutes). */
export const PAIRINGS_PER_MINUTE = 10
/** How long a screen's wait for approval is held before it asks again. */
export const PAIR_WAIT_MS = 25_000
/** How long an identify shows the screen's name. */
export const IDENTIFY_MS = 10_000

/** A view is a path on this Radiator (and its query): never another origin. */
const view = z
  .string()
  .max(500)
  .regex(/^\/(?!\/)[^\s\\]*$/, 'a path on this Radiator, like /tv or /tv?project=acme/shop')
const name = z.string().trim().min(1).max(80)
const approveBody = z.object({ code: z.string().max(20), name, view: view.default('/tv') })
const screenId = z.string().regex(/^scr_[A-Za-z0-9_-]{1,32}$/, 'not a screen id')
const action = z.discriminatedUnion('action', [
  z.object({ action: z.literal('identify') }),
  z.object({ action: z.literal('reload') }),
  z.object({ action: z.literal('show'), view }),
  z.object({ action: z.literal('rename'), name }),
])

/** The public address screens should open: PUBLIC_URL, else the one this request came to. */
function baseUrl(c: Context, config: Config): string {
  if (config.PUBLIC_URL) return config.PUBLIC_URL.replace(/\/$/, '')
  return new URL(c.req.url).origin
}

export function screenRoutes(deps: {
  config: Config
  credentials: Credentials
  screens: Screens
  /** The screens' live connections, on this instance or any (screen-links.ts). */
  links: ScreenLinks
  bus: Bus
  pairings: Pairings
}) {
  const { config, credentials, screens, links, pairings } = deps
  const app = new Hono()
  // One allowance per address for the whole cluster (http/rate-limit.ts).
  const starts = new SharedRateLimiter(deps.bus, 'pairing-starts', PAIRINGS_PER_MINUTE)

  // --- the screen's side: no credential yet ----------------------------------------------

  app.post('/api/pair', access.public, (c) => {
    const address = clientIp(c, config.TRUST_PROXY)
    if (!starts.take(address))
      throw new AppError('TOO_MANY_REQUESTS', 'too many pairing codes from this address; try again in a minute')
    const p = pairings.start(address, c.req.header('user-agent')?.slice(0, 300) ?? null)
    if (!p) throw new AppError('UNAVAILABLE', 'too many pairings pending; try again in a minute')
    return c.json({ ...p, approveUrl: `${baseUrl(c, config)}/pair?code=${p.code}` } satisfies PairingStarted, 201, {
      'cache-control': 'no-store',
    })
  })

  /** Held until the code is approved (then the screen's cookie is set on this very answer) or PAIR_WAIT_MS. */
  app.get('/api/pair/wait', access.public, async (c) => {
    const device = z
      .string()
      .regex(/^rpr_[A-Za-z0-9_-]{43}$/, 'not a pairing device id')
      .parse(c.req.query('device') ?? '')
    const o = await pairings.wait(device, PAIR_WAIT_MS, c.req.raw.signal)
    c.header('cache-control', 'no-store')
    if (o.status === 'expired') return c.json({ status: 'expired' }, 410)
    if (o.status === 'pending') return c.json({ status: 'pending' })
    setSessionCookie(c, config, o.grant.secret, 'screen')
    return c.json({ status: 'approved', view: o.grant.view, name: o.grant.name })
  })

  /** The approval URL as a QR code, drawn by the server so the screen's bundle stays small. */
  app.get('/api/pair/qr.svg', access.public, (c) => {
    const code = normalizeCode(c.req.query('code') ?? '')
    if (!code) throw new AppError('BAD_REQUEST', 'code must look like ABCD-EFGH')
    const svg = renderSVG(`${baseUrl(c, config)}/pair?code=${code}`, { border: 2 })
    return c.body(svg, 200, {
      'content-type': 'image/svg+xml',
      'cache-control': 'no-store',
      'x-content-type-options': 'nosniff',
    })
  })

  // --- the admin's side --------------------------------------------------------------------

  app.get('/api/pair/:code', access.admin, (c) => {
    const code = normalizeCode(c.req.param('code'))
    const p = code ? pairings.describe(code) : null
    if (!p) throw new AppError('NOT_FOUND', 'no such pairing code: it was used, expired (10 minutes) or mistyped')
    return c.json(p satisfies PairingRequest)
  })

  app.post('/api/pair/approve', access.admin, async (c) => {
    const body = approveBody.parse(await c.req.json().catch(() => ({})))
    const code = normalizeCode(body.code)
    if (!code || !CODE_PATTERN.test(code)) throw new AppError('BAD_REQUEST', 'code must look like ABCD-EFGH')
    let screenIdMade = ''
    const ok = await pairings.approve(code, async (p) => {
      const session = await credentials.createPendingScreenSession({ ...p, subject: body.name })
      screenIdMade = (await screens.create(session.id, body.name, body.view)).id
    })
    if (!ok) throw new AppError('NOT_FOUND', 'no such pairing code: it was used, expired (10 minutes) or mistyped')
    return c.json({ screen: screenIdMade, name: body.name, view: body.view }, 201)
  })

  /** A one-time link for a screen provisioned by script: opening it signs that screen in. */
  app.post('/api/admin/screens/links', access.admin, async (c) => {
    const body = z.object({ name, view: view.default('/tv') }).parse(await c.req.json().catch(() => ({})))
    const link = await credentials.createScreenLink(body.name, body.view)
    const url = new URL(body.view, `${baseUrl(c, config)}/`)
    url.searchParams.set('pair', link.secret)
    return c.json({ url: url.href, expiresAt: link.expiresAt, name: body.name, view: body.view }, 201)
  })

  /** The screen's side of a share link: exchanged once for its cookie (the page drops it from its URL first). */
  app.post('/api/pair/link', access.public, async (c) => {
    const body = z
      .object({ link: z.string().regex(/^rsl_[A-Za-z0-9_-]{43}$/, 'not a screen link') })
      .parse(await c.req.json().catch(() => ({})))
    const got = await credentials.consumeScreenLink(body.link)
    if (!got) {
      if (!starts.take(clientIp(c, config.TRUST_PROXY)))
        throw new AppError('TOO_MANY_REQUESTS', 'too many attempts; try again in a minute')
      throw new AppError(
        'UNAUTHORIZED',
        'this screen link was used already or has expired; pair the screen with its code instead'
      )
    }
    const s = await credentials.createSession({
      kind: 'screen',
      role: 'viewer',
      subject: got.name,
      userAgent: c.req.header('user-agent'),
      address: clientIp(c, config.TRUST_PROXY),
    })
    await screens.create(s.id, got.name, got.view)
    setSessionCookie(c, config, s.secret, 'screen')
    return c.json({ status: 'approved', view: got.view, name: got.name })
  })

  app.get('/api/admin/screens', access.admin, async (c) => {
    const rows = screens.list()
    const connections = await links.connections(rows.map((s) => s.sessionId))
    const list = rows.map((s) => {
      const conns = connections.get(s.sessionId) ?? []
      return {
        id: s.id,
        name: s.name,
        view: s.view,
        pairedAt: s.createdAt,
        lastSeenAt: s.lastSeenAt,
        live: conns.length > 0,
        connections: conns,
        version: conns[0]?.version ?? null,
        address: conns[0]?.address ?? s.address,
        userAgent: conns[0]?.userAgent ?? s.userAgent,
      }
    })
    return c.json({ screens: list satisfies ScreenRow[] }, 200, { 'cache-control': 'no-store' })
  })

  app.post('/api/admin/screens/:id', access.admin, async (c) => {
    const s = screens.get(screenId.parse(c.req.param('id')))
    if (!s) throw new AppError('NOT_FOUND', 'no such screen')
    const a = action.parse(await c.req.json().catch(() => ({})))
    // Persist first, so a screen that is off now shows the right thing when it comes back.
    if (a.action === 'show') await screens.update(s.id, { view: a.view })
    if (a.action === 'rename') await screens.update(s.id, { name: a.name })
    const screen = screens.get(s.id)!
    const data =
      a.action === 'identify' || a.action === 'rename'
        ? { action: 'identify', name: screen.name, forMs: IDENTIFY_MS }
        : a.action === 'show'
          ? { action: 'show', view: screen.view }
          : { action: 'reload' }
    const reached = await links.control(s.sessionId, data)
    return c.json({ screen: s.id, action: a.action, reached })
  })

  app.delete('/api/admin/screens/:id', access.admin, async (c) => {
    const s = screens.get(screenId.parse(c.req.param('id')))
    if (!s) throw new AppError('NOT_FOUND', 'no such screen')
    await credentials.revokeSession(s.sessionId) // closes its live connections with 4401
    return c.json({ revoked: s.id })
  })

  /** A screen asks what it should show (after a power cut, it opens / and goes to its view). */
  app.get('/api/screen', access.viewer, (c) => {
    const p = principalOf(c)
    const s = p.kind === 'screen' && p.id ? screens.bySession(p.id) : undefined
    if (!s) return c.json({ screen: null })
    return c.json({ screen: { id: s.id, name: s.name, view: s.view } satisfies ScreenInfo }, 200, {
      'cache-control': 'no-store',
    })
  })

  return app
}
