/**
 * @module Pairing a screen that has no keyboard, after the OAuth device authorization grant
 * (RFC 8628): the screen asks for a short code and shows it (with a QR code of the approval URL);
 * an admin approves the code on a phone or laptop; the screen's waiting request is answered at
 * once with its session. Codes are single-use and expire after PAIRING_TTL_MS. Pending pairings
 * live in memory: a restart only makes a waiting screen ask for a new code.
 */
import { randomInt } from 'node:crypto'
import { hashSecret, newSecret } from './secrets.ts'

export const PAIRING_TTL_MS = 10 * 60_000
/** At most this many codes pending at once (a flood of requests can't grow memory). */
export const MAX_PENDING_PAIRINGS = 1000
/** No 0/O, 1/I/L: a code read off a TV across a room is typed without guessing. 32^8 ≈ 10^12. */
const ALPHABET = 'ABCDEFGHJKMNPQRSTUVWXYZ23456789'
export const CODE_PATTERN = /^[A-HJKMNP-Z2-9]{4}-?[A-HJKMNP-Z2-9]{4}$/

export type Grant = { secret: string; view: string; name: string }
export type WaitOutcome = { status: 'pending' } | { status: 'approved'; grant: Grant } | { status: 'expired' }

interface Pending {
  code: string
  deviceHash: string
  expiresAt: number
  address: string
  userAgent: string | null
  grant?: Grant
  waiters: Set<(o: WaitOutcome) => void>
}

export function normalizeCode(code: string): string | null {
  const c = code.trim().toUpperCase().replace(/\s+/g, '')
  if (!CODE_PATTERN.test(c)) return null
  return c.includes('-') ? c : `${c.slice(0, 4)}-${c.slice(4)}`
}

export class Pairings {
  private byCode = new Map<string, Pending>()
  private byDevice = new Map<string, Pending>()

  constructor(private now: () => number = Date.now) {}

  /** A new code for a screen; `device` is the screen's own secret for waiting on it. */
  start(address: string, userAgent: string | null): { code: string; device: string; expiresAt: number } | null {
    this.sweep()
    if (this.byCode.size >= MAX_PENDING_PAIRINGS) return null
    let code: string
    do {
      const chars = Array.from({ length: 8 }, () => ALPHABET[randomInt(ALPHABET.length)])
      code = `${chars.slice(0, 4).join('')}-${chars.slice(4).join('')}`
    } while (this.byCode.has(code))
    const device = newSecret('rpr')
    const p: Pending = {
      code,
      deviceHash: hashSecret(device),
      expiresAt: this.now() + PAIRING_TTL_MS,
      address,
      userAgent,
      waiters: new Set(),
    }
    this.byCode.set(code, p)
    this.byDevice.set(p.deviceHash, p)
    return { code, device, expiresAt: p.expiresAt }
  }

  /** What an admin sees before approving: where the request came from. */
  describe(code: string): { code: string; expiresAt: number; address: string; userAgent: string | null } | null {
    const p = this.live(this.byCode.get(code))
    return p && !p.grant ? { code: p.code, expiresAt: p.expiresAt, address: p.address, userAgent: p.userAgent } : null
  }

  /**
   * Approves a pending code once; `makeGrant` creates the screen's session only when the code is
   * still good, so a used or expired code creates nothing.
   */
  async approve(code: string, makeGrant: () => Promise<Grant>): Promise<boolean> {
    const p = this.live(this.byCode.get(code))
    if (!p || p.grant) return false
    p.grant = { secret: '', view: '', name: '' } // claimed: a second approval now fails
    p.grant = await makeGrant()
    const outcome: WaitOutcome = { status: 'approved', grant: p.grant }
    for (const w of p.waiters) w(outcome)
    p.waiters.clear()
    this.forget(p)
    return true
  }

  /**
   * Waits for the code behind `device` to be approved, up to `timeoutMs`; answers at once when it
   * already is (the screen's previous wait may have ended just before).
   */
  wait(device: string, timeoutMs: number, signal?: AbortSignal): Promise<WaitOutcome> {
    const p = this.byDevice.get(hashSecret(device))
    if (p?.grant?.secret) {
      this.byDevice.delete(p.deviceHash)
      return Promise.resolve({ status: 'approved', grant: p.grant })
    }
    if (!this.live(p)) return Promise.resolve({ status: 'expired' })
    return new Promise((resolve) => {
      const done = (o: WaitOutcome) => {
        clearTimeout(timer)
        signal?.removeEventListener('abort', abort)
        p!.waiters.delete(done)
        if (o.status === 'approved') this.byDevice.delete(p!.deviceHash)
        resolve(o)
      }
      const abort = () => done({ status: 'pending' })
      const timer = setTimeout(
        () => done(this.live(p) ? { status: 'pending' } : { status: 'expired' }),
        Math.min(timeoutMs, Math.max(0, p!.expiresAt - this.now()))
      )
      signal?.addEventListener('abort', abort)
      p!.waiters.add(done)
    })
  }

  private live(p: Pending | undefined): Pending | undefined {
    if (!p) return undefined
    if (p.expiresAt > this.now()) return p
    this.forget(p)
    this.byDevice.delete(p.deviceHash)
    return undefined
  }

  /** Drops the code (single use); the device entry stays until the screen collects its grant. */
  private forget(p: Pending): void {
    this.byCode.delete(p.code)
  }

  private sweep(): void {
    const now = this.now()
    for (const p of this.byCode.values()) if (p.expiresAt <= now) this.forget(p)
    for (const [h, p] of this.byDevice) if (p.expiresAt <= now - PAIRING_TTL_MS) this.byDevice.delete(h)
  }
}
