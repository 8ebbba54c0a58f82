/**
 * @module Provider timestamps into ISO-8601 UTC. CI systems send ISO strings (GitHub, CircleCI,
 * Buildkite, Azure), "YYYY-MM-DD HH:MM:SS UTC" (GitLab), Go's time.String() (CircleCI event_time),
 * ms epoch (Jenkins) and unix seconds (Drone). Strings are parsed here, never by `Date.parse`,
 * which reads a zone-less string in the server's local time zone and accepts "Feb 30".
 */
import { BadPayload } from './provider.ts'
import type { Obj } from './payload.ts'
import { DAY_MS } from '../time.ts'

/** The span a CI time can plausibly fall in; outside it a value is garbage, never a time. */
const MIN_MS = Date.UTC(1990, 0, 1)
const MAX_MS = Date.UTC(2201, 0, 1)
/** Longer than any build runs: a bigger duration is garbage, not a build that took centuries. */
export const MAX_DURATION_MS = 366 * DAY_MS

/**
 * Date, time and zone as ISO-8601, GitLab ("2024-05-02 10:00:00 UTC") and Go's time.String()
 * ("2024-12-18 17:23:29.361740256 +0000 UTC m=+0.1") write them. A missing zone means UTC.
 */
const DATE_TIME =
  /^(\d{4})-(\d{2})-(\d{2})(?:[T ](\d{2}):(\d{2})(?::(\d{2})(?:[.,](\d+))?)?)? ?(?:(Z|UTC)|([+-]\d{2}(?::?\d{2})?)(?: [A-Z]{1,5})?)?(?: m=[+-]\d+(?:\.\d+)?)?$/i

/** RFC 7231 IMF-fixdate, the only form an HTTP `Date` header may take; always GMT. */
const HTTP_DATE =
  /^(?:Mon|Tue|Wed|Thu|Fri|Sat|Sun), (\d{2}) (Jan|Feb|Mar|Apr|May|Jun|Jul|Aug|Sep|Oct|Nov|Dec) (\d{4}) (\d{2}):(\d{2}):(\d{2}) GMT$/
const MONTHS = ['Jan', 'Feb', 'Mar', 'Apr', 'May', 'Jun', 'Jul', 'Aug', 'Sep', 'Oct', 'Nov', 'Dec']

/** ms since the epoch of a calendar time in UTC, or NaN when a field is out of its range. */
function utcMs(y: number, mo: number, d: number, h = 0, mi = 0, s = 0, ms = 0): number {
  const t = Date.UTC(y, mo - 1, d, h, mi, s, ms)
  // Date.UTC rolls Feb 30 over into March and 24:00 into the next day; a real time never needs to.
  const back = new Date(t)
  const exact =
    back.getUTCFullYear() === y &&
    back.getUTCMonth() === mo - 1 &&
    back.getUTCDate() === d &&
    back.getUTCHours() === h &&
    back.getUTCMinutes() === mi &&
    back.getUTCSeconds() === s
  return exact ? t : NaN
}

/** ms since the epoch of a date-time string in one of the forms of `DATE_TIME`, else NaN. */
function parseDateTime(s: string): number {
  const m = DATE_TIME.exec(s)
  if (!m) return NaN
  const n = (i: number) => (m[i] === undefined ? 0 : Number(m[i]))
  const frac = m[7] ? Number(m[7].slice(0, 3).padEnd(3, '0')) : 0
  const t = utcMs(n(1), n(2), n(3), n(4), n(5), n(6), frac)
  const offset = m[9]
  if (offset === undefined) return t
  const digits = offset.replace(':', '')
  const oh = Number(digits.slice(1, 3))
  const om = Number(digits.slice(3, 5) || '0')
  if (oh > 23 || om > 59) return NaN
  return t - (offset[0] === '-' ? -1 : 1) * (oh * 60 + om) * 60_000
}

/** ms since the epoch of a provider time value, NaN when it is no time, null when it is unset. */
function msOf(value: unknown): number | null {
  if (value === null || value === undefined || value === '') return null
  if (typeof value === 'number') {
    // 0 (and Go's zero time, below) is how Drone and Gitea say "not yet".
    if (value === 0) return null
    if (!Number.isFinite(value) || value < 0) return NaN
    // Below ~2001-09 in ms means the number is in seconds.
    return Math.trunc(value < 1e12 ? value * 1000 : value)
  }
  if (typeof value !== 'string') return NaN
  const s = value.trim()
  if (/^\d{1,16}$/.test(s)) return msOf(Number(s))
  if (s.startsWith('0001-01-01')) return null
  return parseDateTime(s)
}

const inRange = (ms: number): boolean => ms >= MIN_MS && ms < MAX_MS

/** Returns ISO-8601 UTC with milliseconds, or null for anything that is not a plausible time. */
export function toIso(value: unknown): string | null {
  const ms = msOf(value)
  return ms !== null && inRange(ms) ? new Date(ms).toISOString() : null
}

/**
 * `o[key]` as ISO-8601 UTC, for a time the provider always sends: null when absent or unset,
 * a `BadPayload` naming `path` when present but no plausible time (answered 400, not guessed at).
 */
export function requiredTime(o: Obj | undefined, key: string, path: string): string | null {
  const value = o?.[key]
  const ms = msOf(value)
  if (ms === null) return null
  if (!inRange(ms)) {
    const shown = JSON.stringify(value)?.slice(0, 60)
    throw new BadPayload(`${path} is not a time between 1990 and 2200: ${shown}`)
  }
  return new Date(ms).toISOString()
}

/** `iso` moved by `deltaMs`, or null when either is missing or the result is no plausible time. */
export function shiftIso(iso: string | null, deltaMs: number | null): string | null {
  if (iso === null || deltaMs === null) return null
  return toIso(parseDateTime(iso) + deltaMs)
}

/** ms since the epoch of an ISO time this module produced (or the model accepted), else null. */
export function isoMs(iso: string | null): number | null {
  if (iso === null) return null
  const ms = parseDateTime(iso)
  return Number.isFinite(ms) ? ms : null
}

/** ms of an HTTP `Date` header (IMF-fixdate, GMT), else NaN. */
export function httpDateMs(value: string | null): number {
  const m = HTTP_DATE.exec(value ?? '')
  if (!m) return NaN
  return utcMs(Number(m[3]), MONTHS.indexOf(m[2]!) + 1, Number(m[1]), Number(m[4]), Number(m[5]), Number(m[6]))
}

/** A duration in seconds (GitLab) as ms, or null when it is none or longer than any build. */
export function secondsToMs(v: unknown): number | null {
  if (typeof v !== 'number' || !Number.isFinite(v) || v < 0) return null
  const ms = Math.round(v * 1000)
  return ms <= MAX_DURATION_MS ? ms : null
}

/** Milliseconds between two ISO times, or null when either is missing or the order is wrong. */
export function spanMs(from: string | null, to: string | null): number | null {
  if (!from || !to) return null
  const d = parseDateTime(to) - parseDateTime(from)
  return Number.isFinite(d) && d >= 0 && d <= MAX_DURATION_MS ? d : null
}
