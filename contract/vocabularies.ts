/**
 * @module Every closed list of words the server, the database, the beacon and the dashboard share —
 * stated once. Plain `as const` arrays with no zod, so the web can import them as values without
 * bundling a validator; the schemas in builds.ts, metrics.ts, access.ts and live.ts build on them
 * and db/schema.ts takes its column enums from them.
 */

// Builds
export const BUILD_STATUSES = ['queued', 'running', 'success', 'failure', 'canceled', 'skipped'] as const
export type BuildStatus = (typeof BUILD_STATUSES)[number]
export const TERMINAL_STATUSES = ['success', 'failure', 'canceled', 'skipped'] as const
/** What a finished build did to its pipeline: the ticker's words and the sound it plays. */
export const TRANSITIONS = ['passed', 'fixed', 'broken', 'still_failing', 'canceled', 'skipped'] as const
export type Transition = (typeof TRANSITIONS)[number]
/** What became of a webhook delivery (the deliveries log). */
export const DELIVERY_OUTCOMES = ['stored', 'duplicate', 'ignored', 'ping', 'rejected', 'superseded'] as const
export type DeliveryOutcome = (typeof DELIVERY_OUTCOMES)[number]

// Site metrics
export const VITAL_NAMES = ['LCP', 'INP', 'CLS', 'FCP', 'TTFB'] as const
export type VitalName = (typeof VITAL_NAMES)[number]
export const RATINGS = ['good', 'needs-improvement', 'poor'] as const
export type Rating = (typeof RATINGS)[number]
export const DEVICES = ['mobile', 'tablet', 'desktop'] as const
export type Device = (typeof DEVICES)[number]
/** The beacon's hits other than vitals: each is a row of `hits`. */
export const HIT_KINDS = ['pageview', 'heartbeat', 'leave'] as const
export type HitKind = (typeof HIT_KINDS)[number]
export const NAVIGATION_TYPES = [
  'navigate',
  'reload',
  'back-forward',
  'back-forward-cache',
  'prerender',
  'restore',
  'soft-navigation',
] as const
/**
 * A summary's window: whole periods ending with the current one (minutes for 5m/1h, hours for 24h,
 * days for 7d/28d). `24h` is the one the live stream pushes and the site cards show.
 */
export const WINDOWS = ['5m', '1h', '24h', '7d', '28d'] as const
export type SummaryWindow = (typeof WINDOWS)[number]
export const LIVE_WINDOW: SummaryWindow = '24h'

/** Why /api/collect dropped a beacon (counted per reason: GET /api/sites, the Prometheus series). */
export const DROP_REASONS = [
  'rate_limited',
  'too_large',
  'unsupported_type',
  'not_json',
  'invalid',
  'unknown_site',
  'bad_origin',
  'bot',
] as const
export type DropReason = (typeof DROP_REASONS)[number]

// Live stream
/** How a screen is connected, in the order it tries them. */
export const TRANSPORTS = ['ws', 'sse', 'poll'] as const
export type Transport = (typeof TRANSPORTS)[number]

// Access
/** What a credential is allowed: an API token has one of these; a session is viewer or admin. */
export const ROLES = ['viewer', 'admin', 'metrics-push'] as const
export type Role = (typeof ROLES)[number]
export const SESSION_ROLES = ['viewer', 'admin'] as const
export type SessionRole = (typeof SESSION_ROLES)[number]
/** An API token a person made, a one-time sign-in link, or a one-time link that pairs a screen. */
export const TOKEN_KINDS = ['api', 'signin', 'screen-link'] as const
export type TokenKind = (typeof TOKEN_KINDS)[number]
/** A browser signed in by a person, or a paired screen (a TV). */
export const SESSION_KINDS = ['browser', 'screen'] as const
export type SessionKind = (typeof SESSION_KINDS)[number]
