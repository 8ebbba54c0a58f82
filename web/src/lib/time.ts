/** @module Time on screen: one shared ticking clock (corrected to the server's) and the formats. */
import { createSignal, onCleanup } from 'solid-js'

/**
 * A clock signal that ticks every `everyMs`, `offset()` ms ahead of the local clock (server time
 * minus local time), so ages and ETAs stay right on a TV whose clock is off.
 */
export function createNow(offset: () => number, everyMs = 1000) {
  const [tick, setTick] = createSignal(Date.now())
  const timer = setInterval(() => setTick(Date.now()), everyMs)
  onCleanup(() => clearInterval(timer))
  return () => tick() + offset()
}

const pad = (n: number) => String(n).padStart(2, '0')

export function hhmm(ms: number): string {
  const d = new Date(ms)
  return `${pad(d.getHours())}:${pad(d.getMinutes())}`
}

/** "12 minutes", "1 hour", "3 days": a span in words, for sentences and aria-labels. */
export function span(ms: number): string {
  const s = Math.max(0, Math.round(ms / 1000))
  const unit = (n: number, w: string) => `${n} ${w}${n === 1 ? '' : 's'}`
  if (s < 60) return unit(s, 'second')
  const m = Math.floor(s / 60)
  if (m < 60) return unit(m, 'minute')
  const h = Math.floor(m / 60)
  if (h < 48) return unit(h, 'hour')
  return unit(Math.floor(h / 24), 'day')
}

/** "just now", "4 min ago", "2 h ago", "3 d ago": compact, for tiles. */
export function ago(ms: number): string {
  const s = Math.round(ms / 1000)
  if (s < 45) return 'just now'
  const m = Math.round(s / 60)
  if (m < 60) return `${m} min ago`
  const h = Math.floor(m / 60)
  if (h < 48) return `${h} h ago`
  return `${Math.floor(h / 24)} d ago`
}

/** "45s", "4m 12s", "1h 02m": a build duration. */
export function duration(ms: number): string {
  const s = Math.max(0, Math.round(ms / 1000))
  if (s < 60) return `${s}s`
  const m = Math.floor(s / 60)
  if (m < 60) return `${m}m ${pad(s % 60)}s`
  return `${Math.floor(m / 60)}h ${pad(m % 60)}m`
}

export const parseTime = (iso: string | null | undefined): number | null => {
  if (!iso) return null
  const t = Date.parse(iso)
  return Number.isFinite(t) ? t : null
}

/** "40 s", "12 min", "3 h", "2 d": a span, compact. */
export function short(ms: number): string {
  const s = Math.max(0, Math.round(ms / 1000))
  if (s < 60) return `${s} s`
  const m = Math.floor(s / 60)
  if (m < 60) return `${m} min`
  const h = Math.floor(m / 60)
  if (h < 10 && m % 60) return `${h} h ${m % 60} min`
  if (h < 48) return `${h} h`
  return `${Math.floor(h / 24)} d`
}

const DAYS = ['Sun', 'Mon', 'Tue', 'Wed', 'Thu', 'Fri', 'Sat']
const MONTHS = ['Jan', 'Feb', 'Mar', 'Apr', 'May', 'Jun', 'Jul', 'Aug', 'Sep', 'Oct', 'Nov', 'Dec']

/** A moment as a clock reads it from `now`: "17:42" today, "Fri 17:42" this week, else "12 Mar 17:42". */
export function clock(at: number, now: number): string {
  const d = new Date(at)
  const n = new Date(now)
  if (d.toDateString() === n.toDateString()) return hhmm(at)
  if (now - at < 6 * 86_400_000 && now >= at) return `${DAYS[d.getDay()]} ${hhmm(at)}`
  return `${d.getDate()} ${MONTHS[d.getMonth()]} ${hhmm(at)}`
}
