/**
 * @module Provider timestamps into ISO-8601 UTC. CI systems send ISO strings (GitHub, CircleCI,
 * Buildkite, Azure), "YYYY-MM-DD HH:MM:SS UTC" (GitLab), Go's time.String() (CircleCI event_time),
 * ms epoch (Jenkins) and unix seconds (Drone).
 */

const GITLAB = /^(\d{4}-\d{2}-\d{2}) (\d{2}:\d{2}:\d{2}(?:\.\d+)?) ?(UTC|Z|[+-]\d{2}:?\d{2})$/
const GO_TIME = /^(\d{4}-\d{2}-\d{2}) (\d{2}:\d{2}:\d{2})(\.\d+)? ([+-]\d{4})(?: \w+)?$/

/** Returns ISO-8601 UTC with milliseconds, or null for anything that is not a plausible time. */
export function toIso(value: unknown): string | null {
  if (value === null || value === undefined || value === '') return null
  let ms: number
  if (typeof value === 'number') {
    if (!Number.isFinite(value) || value <= 0) return null
    // Below ~2001-09 in ms means the number is in seconds.
    ms = value < 1e12 ? value * 1000 : value
  } else if (typeof value === 'string') {
    const s = value.trim()
    let m: RegExpMatchArray | null
    if (/^\d+$/.test(s)) return toIso(Number(s))
    if ((m = s.match(GITLAB))) {
      const zone = m[3] === 'UTC' || m[3] === 'Z' ? 'Z' : m[3]!
      ms = Date.parse(`${m[1]}T${m[2]}${zone}`)
    } else if ((m = s.match(GO_TIME))) {
      const frac = m[3] ? m[3].slice(0, 4) : ''
      const off = `${m[4]!.slice(0, 3)}:${m[4]!.slice(3)}`
      ms = Date.parse(`${m[1]}T${m[2]}${frac}${off}`)
    } else {
      ms = Date.parse(s)
    }
  } else {
    return null
  }
  if (!Number.isFinite(ms)) return null
  const d = new Date(ms)
  const y = d.getUTCFullYear()
  if (y < 1990 || y > 2200) return null
  return d.toISOString()
}

/** Milliseconds between two ISO times, or null when either is missing or the order is wrong. */
export function spanMs(from: string | null, to: string | null): number | null {
  if (!from || !to) return null
  const d = Date.parse(to) - Date.parse(from)
  return Number.isFinite(d) && d >= 0 ? d : null
}
