/**
 * @module Beacon ingest as a list of named steps (Plausible's ingestion/event.ex): each step returns
 * the beacon, enriched, or a `Drop` with a reason from a closed list. Drops are counted per reason.
 * The last step writes through the group-commit writer, so an accepted beacon is committed before
 * the caller answers.
 */
import { isbot } from 'isbot'
import type { RateLimiter } from '../http/rate-limit.ts'
import type { Presence } from './presence.ts'
import type { RawBeacon } from './raw.ts'
import type { Sites } from './sites.ts'
import { type CollectBody, collectBody, type Device, type IngestStats } from '../../contract/metrics.ts'
import { DROP_REASONS, type DropReason } from '../../contract/vocabularies.ts'
import { zodMessage } from '../errors.ts'

/** What navigator.sendBeacon(url, string) sends in every browser: checked first, without parsing. */
const SEND_BEACON_TYPE = 'text/plain;charset=UTF-8'

export { DROP_REASONS, type DropReason } from '../../contract/vocabularies.ts'

export class Drop {
  constructor(
    readonly reason: DropReason,
    readonly message: string,
    /** For `rate_limited`: when to try again. */
    readonly retryAfterS?: number
  ) {}
}

/** What the transport hands over: plain values, no framework objects. */
export interface CollectRequest {
  contentType: string | undefined
  body: string
  origin: string | undefined
  userAgent: string | undefined
  ip: string
}

interface Beacon {
  req: CollectRequest
  data?: CollectBody
  site?: string
  device?: Device
  visitor?: string
}

/** A step enriches the beacon in place (it is private to one request) or drops it. */
type Step = (b: Beacon) => Beacon | Drop

/** Where visitor ids come from (visitor-hash.ts on SQLite, pg-visitor-ids.ts on PostgreSQL). */
export interface VisitorIdSource {
  idFor(site: string, ip: string, ua: string, known: (id: string) => boolean): string
  /** A promise while today's salt is still being fetched (PostgreSQL, once a day); else undefined. */
  ready?(): Promise<void> | undefined
}

export interface IngestDeps {
  sites: Sites
  visitors: VisitorIdSource
  presence: Pick<Presence, 'knows' | 'record'>
  /** Writes one beacon's raw rows; settles after its COMMIT (the engine's writer). */
  store: (beacon: RawBeacon) => Promise<unknown>
  now: () => number
  /** Beacons per client address (COLLECT_PER_MINUTE); null: no limit. */
  perAddress: RateLimiter | null
  /** Called after an accepted beacon changed presence (live pushes). */
  onAccepted?: (site: string) => void
}

export type Outcome = { accepted: true; site: string } | { accepted: false; drop: Drop; site?: string }

export type { IngestStats } from '../../contract/metrics.ts'

export function createIngest(deps: IngestDeps) {
  const stats: IngestStats = { accepted: 0, dropped: zeroCounts() }

  // First, so a flood from one address costs a map lookup per beacon, not a parse.
  const withinRate: Step = (b) =>
    deps.perAddress && !deps.perAddress.take(b.req.ip)
      ? new Drop(
          'rate_limited',
          'too many beacons from this address; try again in a moment',
          deps.perAddress.refillSeconds
        )
      : b

  // sendBeacon sends a string as text/plain (no CORS preflight); fetch clients may send JSON.
  const checkContentType: Step = (b) => {
    const raw = b.req.contentType
    if (raw === SEND_BEACON_TYPE) return b
    const type = raw?.split(';', 1)[0].trim().toLowerCase()
    if (type && type !== 'text/plain' && type !== 'application/json')
      return new Drop('unsupported_type', 'send the body as text/plain or application/json')
    return b
  }

  const parse: Step = (b) => {
    let json: unknown
    try {
      json = JSON.parse(b.req.body)
    } catch {
      return new Drop('not_json', 'the body is not valid JSON')
    }
    const r = collectBody.safeParse(json)
    if (!r.success) return new Drop('invalid', zodMessage(r.error))
    b.data = r.data
    return b
  }

  const knownSite: Step = (b) => {
    const site = b.data!.site.toLowerCase()
    if (!deps.sites.has(site)) return new Drop('unknown_site', `unknown site ${JSON.stringify(site)} (add it to SITES)`)
    b.site = site
    return b
  }

  const checkOrigin: Step = (b) => {
    if (!deps.sites.originAllowed(b.req.origin, b.site!))
      return new Drop('bad_origin', `Origin ${JSON.stringify(b.req.origin ?? null)} may not report for ${b.site}`)
    return b
  }

  // Counted, not stored: a crawler is not a visitor. No User-Agent at all is a script, not a browser.
  const dropBot: Step = (b) => (!b.req.userAgent || isBot(b.req.userAgent) ? new Drop('bot', 'bot user agent') : b)

  const putDevice: Step = (b) => {
    b.device = deviceOf(b.data!.width, b.req.userAgent!)
    return b
  }

  const putVisitor: Step = (b) => {
    b.visitor = deps.visitors.idFor(b.site!, b.req.ip, b.req.userAgent!, (id) => deps.presence.knows(b.site!, id))
    return b
  }

  const steps: Step[] = [withinRate, checkContentType, parse, dropBot, knownSite, checkOrigin, putDevice, putVisitor]

  async function write(b: Beacon): Promise<void> {
    const at = deps.now()
    const beacon = { site: b.site!, visitor: b.visitor!, device: b.device!, events: b.data!.events, at }
    await deps.store(beacon)
    for (const e of beacon.events)
      if (e.type !== 'vital') deps.presence.record(beacon.site, beacon.visitor, beacon.device, e.type, at)
    deps.onAccepted?.(beacon.site)
  }

  return {
    stats,
    /** Counts a drop that happened before the pipeline (the body-size limit, in the transport). */
    dropped(drop: Drop): Outcome {
      stats.dropped[drop.reason]++
      return { accepted: false, drop }
    },
    async run(req: CollectRequest): Promise<Outcome> {
      const salt = deps.visitors.ready?.()
      if (salt) await salt
      let b: Beacon = { req }
      for (const step of steps) {
        const r = step(b)
        if (r instanceof Drop) {
          stats.dropped[r.reason]++
          return { accepted: false, drop: r, site: b.site }
        }
        b = r
      }
      await write(b)
      stats.accepted++
      return { accepted: true, site: b.site! }
    },
  }
}

export type Ingest = ReturnType<typeof createIngest>

/** A zero per drop reason; the entries come from the closed list, so every key is present. */
function zeroCounts(): Record<DropReason, number> {
  return Object.fromEntries(DROP_REASONS.map((r) => [r, 0])) as Record<DropReason, number>
}

/**
 * isbot's one large regular expression is the costliest check per beacon, and a site sees the same
 * few hundred User-Agent strings over and over: the answers are memoized, bounded.
 */
const botCache = new Map<string, boolean>()
const BOT_CACHE_MAX = 2000
function isBot(ua: string): boolean {
  let bot = botCache.get(ua)
  if (bot === undefined) {
    if (botCache.size >= BOT_CACHE_MAX) botCache.clear()
    botCache.set(ua, (bot = isbot(ua)))
  }
  return bot
}

/** Plausible's screen-size classes from the viewport width; the User-Agent when it is missing. */
export function deviceOf(width: number | undefined, ua: string): Device {
  if (width !== undefined && width > 0) return width < 576 ? 'mobile' : width < 992 ? 'tablet' : 'desktop'
  if (/iPad|Tablet/i.test(ua)) return 'tablet'
  return /Mobi|Android/i.test(ua) ? 'mobile' : 'desktop'
}
