/** @module Parsers for the URL's display options: pure, tested on their own. */
import { DEVICES, LIVE_WINDOW, TRANSPORTS, WINDOWS } from '../../../contract/vocabularies.ts'

/** "30s", "2m", "1h", "1500ms" or a bare number of seconds → ms; null when unreadable. */
export function parseDuration(v: string | null | undefined): number | null {
  if (!v) return null
  const m = /^\s*(\d+(?:\.\d+)?)\s*(ms|s|m|h)?\s*$/i.exec(v)
  if (!m) return null
  const n = Number(m[1])
  const unit = (m[2] ?? 's').toLowerCase()
  const ms = unit === 'ms' ? n : unit === 's' ? n * 1000 : unit === 'm' ? n * 60_000 : n * 3_600_000
  return Number.isFinite(ms) && ms > 0 ? ms : null
}

export interface QuietHours {
  /** Minutes after local midnight. */
  from: number
  to: number
}

/** "22:00-07:00" → minutes; null when unreadable. A range may wrap past midnight. */
export function parseQuiet(v: string | null | undefined): QuietHours | null {
  if (!v) return null
  const m = /^\s*(\d{1,2}):(\d{2})\s*-\s*(\d{1,2}):(\d{2})\s*$/.exec(v)
  if (!m) return null
  const [h1, m1, h2, m2] = m.slice(1).map(Number) as [number, number, number, number]
  if (h1 > 23 || h2 > 24 || m1 > 59 || m2 > 59) return null
  return { from: h1 * 60 + m1, to: h2 * 60 + m2 }
}

export function inQuietHours(q: QuietHours | null, d: Date): boolean {
  if (!q || q.from === q.to) return false
  const t = d.getHours() * 60 + d.getMinutes()
  return q.from < q.to ? t >= q.from && t < q.to : t >= q.from || t < q.to
}

/** A flag present as `?tv`, `?tv=1`, `?tv=true`; absent or `=0`/`=false`/`=off` is false. */
export function flag(p: URLSearchParams, name: string): boolean {
  if (!p.has(name)) return false
  const v = p.get(name)!.toLowerCase()
  return v !== '0' && v !== 'false' && v !== 'off' && v !== 'no'
}

export const ROTATABLE = ['builds', 'sites', 'metrics'] as const
export type ViewName = (typeof ROTATABLE)[number] | `site:${string}`

export function parseRotate(v: string | null | undefined): ViewName[] {
  if (!v) return []
  return v
    .split(',')
    .map((s) => s.trim())
    .filter((s): s is ViewName => (ROTATABLE as readonly string[]).includes(s) || /^site:.+/.test(s))
}

export const STATUSES = ['failing', 'running', 'queued', 'silent', 'canceled', 'skipped', 'passing', 'unknown'] as const
const ONOFF = ['on', 'off', '1', '0', 'true', 'false', 'yes', 'no']

/**
 * What is wrong with a bookmark's options, one plain sentence each (empty when nothing is). A wall
 * screen shows these on screen, since nobody there reads a console.
 */
export function optionProblems(p: URLSearchParams): string[] {
  const out: string[] = []
  const dur = (name: string, min: number, fallback: string) => {
    const v = p.get(name)
    if (v === null) return
    const ms = parseDuration(v)
    if (ms === null) out.push(`“${name}=${v}” is not a duration like 30s or 2m; using ${fallback}`)
    else if (ms < min) out.push(`“${name}=${v}” is shorter than ${min / 1000}s; using ${min / 1000}s`)
  }
  dur('every', 3_000, '30s')
  dur('dwell', 2_000, '10s')
  const rotate = p.get('rotate')
  if (rotate !== null) {
    const bad = rotate
      .split(',')
      .map((s) => s.trim())
      .filter((s) => s && !((ROTATABLE as readonly string[]).includes(s) || /^site:.+/.test(s)))
    if (bad.length || !parseRotate(rotate).length)
      out.push(
        `“rotate=${rotate}”: ${bad.length ? bad.map((b) => `“${b}”`).join(', ') : 'nothing'} is not a view (builds, sites, metrics, site:<domain>)`
      )
  }
  const oneOf = (name: string, allowed: readonly string[], then: string) => {
    const v = p.get(name)
    if (v !== null && !allowed.includes(v.toLowerCase()))
      out.push(`“${name}=${v}” is not one of ${allowed.join(', ')}; ${then}`)
  }
  oneOf('device', DEVICES, 'showing all devices')
  oneOf('window', WINDOWS, `showing ${LIVE_WINDOW}`)
  oneOf('theme', ['dark', 'light'], 'using dark')
  oneOf('motion', ['on', 'off'], 'motion stays on')
  oneOf('sound', ONOFF, 'sound unchanged')
  const quiet = p.get('quiet')
  if (quiet !== null && !parseQuiet(quiet))
    out.push(`“quiet=${quiet}” is not a time range like 22:00-07:00; no quiet hours`)
  const status = p.get('status')
  if (status !== null) {
    const bad = status
      .split(',')
      .map((s) => s.trim())
      .filter((s) => s && !(STATUSES as readonly string[]).includes(s))
    if (bad.length)
      out.push(`“status=${status}”: ${bad.join(', ')} is not a status (${STATUSES.slice(0, 7).join(', ')})`)
  }
  const transport = p.get('transport')
  if (transport?.split(',').some((t) => !(TRANSPORTS as readonly string[]).includes(t)))
    out.push(`“transport=${transport}” may only list ${TRANSPORTS.join(', ')}`)
  return out
}
