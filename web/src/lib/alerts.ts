/**
 * @module What a finished build announces, only for builds in the screen's scope: on a laptop a
 * toast for breaks and fixes; on a wall no overlay at all, the tile itself lights up and a one-line
 * ticker in the header says what happened; with consent a browser notification; optionally a sound
 * (broken, fixed, still failing — generated with WebAudio, no audio files), muted with `m` and
 * silent during quiet hours. Owns every timer it starts.
 */
import { createSignal, onCleanup } from 'solid-js'
import type { BuildFinishedEvent, Transition } from '../types.ts'
import { inQuietHours, type QuietHours } from './options.ts'
import { title as tileTitle } from './status.ts'

export interface Toast {
  id: number
  transition: Transition
  title: string
  body: string
  href: string
}

export const MAX_TOASTS = 4
/** The wall's ticker line stays this long after the last finished build. */
export const TICKER_MS = 10 * 60_000

export interface Ticker {
  transition: Transition
  text: string
  /** Local ms time it happened. */
  at: number
}

const HEADLINE: Record<Transition, string> = {
  broken: 'broken',
  still_failing: 'still failing',
  fixed: 'fixed',
  passed: 'passed',
  canceled: 'canceled',
  skipped: 'skipped',
}

export function describe(e: BuildFinishedEvent): { title: string; body: string } {
  const b = e.build
  const who = b.actor || b.commit?.author
  const num = b.number != null ? ` #${b.number}` : ''
  const subject = b.commit?.subject?.split('\n', 1)[0]
  const by =
    e.transition === 'broken' && e.pipeline.brokenBy
      ? ` by ${e.pipeline.brokenBy}`
      : e.transition === 'fixed' && e.pipeline.fixedBy
        ? ` by ${e.pipeline.fixedBy}`
        : who
          ? ` · ${who}`
          : ''
  return {
    title: `${tileTitle(e.pipeline)}${num} ${HEADLINE[e.transition] ?? e.transition}${by}`,
    body: subject ?? '',
  }
}

type Tone = [freq: number, at: number, dur: number, type: OscillatorType]
// Three shapes a room learns quickly: falling for broken, rising for fixed, a low double buzz
// for still failing.
const SOUNDS: Partial<Record<Transition, Tone[]>> = {
  broken: [
    [740, 0, 0.22, 'sawtooth'],
    [523, 0.22, 0.22, 'sawtooth'],
    [370, 0.44, 0.45, 'sawtooth'],
  ],
  fixed: [
    [523, 0, 0.14, 'sine'],
    [659, 0.14, 0.14, 'sine'],
    [784, 0.28, 0.14, 'sine'],
    [1047, 0.42, 0.35, 'sine'],
  ],
  still_failing: [
    [196, 0, 0.18, 'square'],
    [196, 0.28, 0.18, 'square'],
  ],
}

function readSoundPref(param: string | null): boolean {
  if (param === 'on' || param === '1') return true
  if (param === 'off' || param === '0') return false
  try {
    return localStorage.getItem('radiator.sound') === 'on'
  } catch {
    return false
  }
}

export function createAlerts(opts: {
  quiet: () => QuietHours | null
  soundParam: () => string | null
  /** A wall screen: no toasts, a ticker line instead. */
  tv: () => boolean
}) {
  const [toasts, setToasts] = createSignal<Toast[]>([])
  const [ticker, setTicker] = createSignal<Ticker | null>(null)
  /** Sounds played: what a browser test can see of audio. */
  const stats = { played: 0 }
  ;(globalThis as { __radiatorAlerts?: typeof stats }).__radiatorAlerts = stats
  const [soundOn, setSoundOn] = createSignal(readSoundPref(opts.soundParam()))
  const canNotify = typeof Notification === 'function'
  const [permission, setPermission] = createSignal<NotificationPermission | 'unsupported'>(
    canNotify ? Notification.permission : 'unsupported'
  )
  const timers = new Set<ReturnType<typeof setTimeout>>()
  let audio: AudioContext | null = null
  let nextId = 1

  const later = (fn: () => void, ms: number) => {
    const t = setTimeout(() => {
      timers.delete(t)
      fn()
    }, ms)
    timers.add(t)
  }

  const dismiss = (id: number) => setToasts((l) => l.filter((t) => t.id !== id))

  function ensureAudio(): AudioContext | null {
    if (audio) return audio
    const Ctor =
      globalThis.AudioContext ?? (globalThis as { webkitAudioContext?: typeof AudioContext }).webkitAudioContext
    if (!Ctor) return null
    audio = new Ctor()
    return audio
  }

  function play(transition: Transition) {
    const tones = SOUNDS[transition]
    if (!tones) return
    stats.played++
    const ctx = ensureAudio()
    if (!ctx) return
    if (ctx.state === 'suspended') void ctx.resume().catch(() => {})
    const t0 = ctx.currentTime + 0.02
    for (const [freq, at, dur, type] of tones) {
      const osc = ctx.createOscillator()
      const gain = ctx.createGain()
      osc.type = type
      osc.frequency.value = freq
      gain.gain.setValueAtTime(0.0001, t0 + at)
      gain.gain.exponentialRampToValueAtTime(0.18, t0 + at + 0.02)
      gain.gain.exponentialRampToValueAtTime(0.0001, t0 + at + dur)
      osc.connect(gain).connect(ctx.destination)
      osc.start(t0 + at)
      osc.stop(t0 + at + dur + 0.05)
      osc.onended = () => {
        osc.disconnect()
        gain.disconnect()
      }
    }
  }

  function toggleSound(on = !soundOn()) {
    setSoundOn(on)
    try {
      localStorage.setItem('radiator.sound', on ? 'on' : 'off')
    } catch {
      /* private mode: the choice lasts for this page */
    }
    // Called from a key press or click: the user gesture browsers require before audio may start.
    if (on)
      void ensureAudio()
        ?.resume()
        .catch(() => {})
  }

  // Sound enabled from the URL or storage still needs one gesture in most browsers.
  const unlock = () => {
    if (soundOn())
      void ensureAudio()
        ?.resume()
        .catch(() => {})
  }
  addEventListener('pointerdown', unlock)
  addEventListener('keydown', unlock)

  async function askPermission() {
    if (!canNotify) return
    setPermission(await Notification.requestPermission())
  }

  let tickerTimer: ReturnType<typeof setTimeout> | undefined
  function announce(e: BuildFinishedEvent) {
    const { title, body } = describe(e)
    const serious = e.transition === 'broken' || e.transition === 'still_failing' || e.transition === 'fixed'
    if (opts.tv()) {
      const item: Ticker = { transition: e.transition, text: title, at: Date.now() }
      setTicker(item)
      clearTimeout(tickerTimer)
      tickerTimer = setTimeout(() => setTicker((t) => (t === item ? null : t)), TICKER_MS)
    } else if (serious) {
      const toast: Toast = {
        id: nextId++,
        transition: e.transition,
        title,
        body,
        href: `/pipelines/${encodeURIComponent(e.pipeline.id)}`,
      }
      setToasts((l) => [toast, ...l].slice(0, MAX_TOASTS))
      later(() => dismiss(toast.id), 20_000)
    }
    if (!serious || inQuietHours(opts.quiet(), new Date())) return
    if (soundOn()) play(e.transition)
    if (permission() === 'granted' && document.visibilityState === 'hidden') {
      try {
        const n = new Notification(title, { body, tag: e.pipeline.id })
        n.onclick = () => {
          focus()
          n.close()
        }
      } catch {
        /* some platforms only allow notifications from a service worker */
      }
    }
  }

  onCleanup(() => {
    clearTimeout(tickerTimer)
    for (const t of timers) clearTimeout(t)
    timers.clear()
    removeEventListener('pointerdown', unlock)
    removeEventListener('keydown', unlock)
    void audio?.close().catch(() => {})
  })

  return { toasts, ticker, dismiss, announce, soundOn, toggleSound, permission, askPermission, play, stats }
}
export type Alerts = ReturnType<typeof createAlerts>
