/**
 * @module Pairing a screen that has no keyboard, after the OAuth device authorization grant
 * (RFC 8628): the screen asks for a short code and shows it (with a QR code of the approval URL);
 * an admin approves the code on a phone or laptop; the screen's waiting request is answered at
 * once with its session. Codes are single-use and expire after PAIRING_TTL_MS.
 *
 * In a cluster each step may land on another instance, so:
 * - Pending codes are held in memory by every instance: announced on the bus when started (topic
 *   `pairing`), and asked for again by an instance that starts (`sync`). A lost announcement only
 *   means that instance does not know the code: the admin sees "no such code" there, the screen's
 *   wait there says expired and the screen asks for a new code. A restart loses only pending codes.
 * - The approval is durable: it creates the screen's session in the database under the hash of a
 *   secret only the screen can make (`pendingSecret`, derived from its device secret), so whichever
 *   instance the screen waits on, now or after a timed-out wait, finds it there and collects it.
 *   Collecting gives the session a fresh random secret, once (credentials.collectSession), so the
 *   derived secret stops working the moment the screen has its cookie; the device secret travels in
 *   a URL and may be logged. Approving a code twice at once fails on the session hash's unique index.
 * - The approval is also announced, so the instance holding the screen's wait answers at once.
 */
import { createHash, randomInt } from 'node:crypto'
import { z } from 'zod'
import type { Bus } from '../cluster/bus.ts'
import type { Credentials } from './credentials.ts'
import { isDuplicate } from './rows.ts'
import { hashSecret, newSecret } from './secrets.ts'

export const PAIRING_TTL_MS = 10 * 60_000
/** At most this many codes pending at once (a flood of requests can't grow memory). */
export const MAX_PENDING_PAIRINGS = 1000
/** No 0/O, 1/I/L: a code read off a TV across a room is typed without guessing. 32^8 ≈ 10^12. */
const ALPHABET = 'ABCDEFGHJKMNPQRSTUVWXYZ23456789'
export const CODE_PATTERN = /^[A-HJKMNP-Z2-9]{4}-?[A-HJKMNP-Z2-9]{4}$/

export type Grant = { secret: string; view: string; name: string }
export type WaitOutcome = { status: 'pending' } | { status: 'approved'; grant: Grant } | { status: 'expired' }

const pendingShape = z.object({
  code: z.string().regex(CODE_PATTERN),
  deviceHash: z.string().max(64),
  grantHash: z.string().max(64),
  expiresAt: z.number(),
  address: z.string().max(100),
  userAgent: z.string().max(300).nullable(),
  origin: z.string().max(64),
})
type Pending = z.infer<typeof pendingShape> & { approved?: true; claimed?: true }

const message = z.discriminatedUnion('op', [
  z.object({ op: z.literal('start'), pending: pendingShape }),
  z.object({ op: z.literal('approved'), code: z.string(), deviceHash: z.string() }),
  z.object({ op: z.literal('sync') }),
])

export function normalizeCode(code: string): string | null {
  const c = code.trim().toUpperCase().replace(/\s+/g, '')
  if (!CODE_PATTERN.test(c)) return null
  return c.includes('-') ? c : `${c.slice(0, 4)}-${c.slice(4)}`
}

/** The secret the approved session is stored under until collected: only the device secret's holder can make it. */
export function pendingSecret(device: string): string {
  return `ras_${createHash('sha256').update('radiator pairing\0').update(device).digest('base64url')}`
}

export class Pairings {
  private byCode = new Map<string, Pending>()
  private byDevice = new Map<string, Pending>()
  private waiters = new Map<string, Set<() => void>>()
  private unlisten: () => void

  constructor(
    private credentials: Credentials,
    private bus: Bus,
    private now: () => number = Date.now
  ) {
    this.unlisten = bus.listen('pairing', (data, from) => this.heard(data, from))
    bus.announce('pairing', { op: 'sync' })
  }

  close(): void {
    this.unlisten()
  }

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
      grantHash: hashSecret(pendingSecret(device)),
      expiresAt: this.now() + PAIRING_TTL_MS,
      address: address.slice(0, 100),
      userAgent,
      origin: this.bus.instance,
    }
    this.add(p)
    this.bus.announce('pairing', { op: 'start', pending: p })
    return { code, device, expiresAt: p.expiresAt }
  }

  /** What an admin sees before approving: where the request came from. */
  describe(code: string): { code: string; expiresAt: number; address: string; userAgent: string | null } | null {
    const p = this.live(this.byCode.get(code))
    return p && !p.claimed ? { code: p.code, expiresAt: p.expiresAt, address: p.address, userAgent: p.userAgent } : null
  }

  /**
   * Approves a pending code once: `makeSession` creates the screen's session under `hash` (with
   * credentials.createPendingScreenSession) and its screen, only while the code is still good.
   */
  async approve(
    code: string,
    makeSession: (p: { hash: string; expiresAt: number; address: string; userAgent: string | null }) => Promise<void>
  ): Promise<boolean> {
    const p = this.live(this.byCode.get(code))
    if (!p || p.claimed) return false
    p.claimed = true // a second approval here now fails; on another instance, the session's unique hash does
    try {
      // Collectable until the screen's last wait for this code could end.
      await makeSession({
        hash: p.grantHash,
        expiresAt: p.expiresAt + PAIRING_TTL_MS,
        address: p.address,
        userAgent: p.userAgent,
      })
    } catch (e) {
      if (isDuplicate(e)) {
        this.byCode.delete(code)
        return false
      }
      delete p.claimed
      throw e
    }
    this.approved(p.code, p.deviceHash)
    this.bus.announce('pairing', { op: 'approved', code: p.code, deviceHash: p.deviceHash })
    return true
  }

  /**
   * Waits for the code behind `device` to be approved, up to `timeoutMs`; answers at once when it
   * already is (the screen's previous wait may have ended just before, on any instance).
   */
  async wait(device: string, timeoutMs: number, signal?: AbortSignal): Promise<WaitOutcome> {
    const deviceHash = hashSecret(device)
    const first = await this.outcome(device, deviceHash)
    if (first.status !== 'pending') return first
    const p = this.byDevice.get(deviceHash)!
    await new Promise<void>((resolve) => {
      let set = this.waiters.get(deviceHash)
      if (!set) this.waiters.set(deviceHash, (set = new Set()))
      const done = () => {
        clearTimeout(timer)
        signal?.removeEventListener('abort', done)
        set.delete(done)
        if (!set.size) this.waiters.delete(deviceHash)
        resolve()
      }
      const timer = setTimeout(done, Math.min(timeoutMs, Math.max(0, p.expiresAt - this.now())))
      signal?.addEventListener('abort', done)
      set.add(done)
    })
    // A screen that went away must not have its session collected for nobody.
    if (signal?.aborted) return { status: 'pending' }
    // Asked again on wake-up and at the timeout alike: an approval whose announcement was lost is found here.
    return this.outcome(device, deviceHash)
  }

  /** Approved (collected now), pending, or expired, as things stand. */
  private async outcome(device: string, deviceHash: string): Promise<WaitOutcome> {
    const p = this.byDevice.get(deviceHash)
    const secret = pendingSecret(device)
    if (p?.approved || this.credentials.rows.sessionByHash(hashSecret(secret))) {
      const got = await this.credentials.collectSession(secret)
      if (got) {
        if (p) this.forget(p)
        return {
          status: 'approved',
          grant: {
            secret: got.secret,
            name: got.screen?.name ?? got.session.subject,
            view: got.screen?.view ?? '/tv',
          },
        }
      }
      if (p?.approved) return { status: 'expired' } // collected already (another wait of the same screen)
    }
    return this.live(p) ? { status: 'pending' } : { status: 'expired' }
  }

  private heard(data: unknown, from: string): void {
    const m = message.safeParse(data)
    if (!m.success) return
    const msg = m.data
    if (msg.op === 'start') {
      if (from !== this.bus.instance && msg.pending.expiresAt > this.now() && this.byCode.size < MAX_PENDING_PAIRINGS)
        this.add({ ...msg.pending })
    } else if (msg.op === 'approved') this.approved(msg.code, msg.deviceHash)
    else if (from !== this.bus.instance)
      // An instance that just started asks for the codes pending: each tells those it started.
      for (const p of this.byCode.values())
        if (p.origin === this.bus.instance && this.live(p) && !p.claimed) {
          const { approved: _a, claimed: _c, ...pending } = p
          this.bus.announce('pairing', { op: 'start', pending })
        }
  }

  private add(p: Pending): void {
    if (this.byDevice.has(p.deviceHash)) return
    this.byCode.set(p.code, p)
    this.byDevice.set(p.deviceHash, p)
  }

  /** The code is used up everywhere; the screen's waits here are told to collect their session. */
  private approved(code: string, deviceHash: string): void {
    this.byCode.delete(code)
    const p = this.byDevice.get(deviceHash)
    if (p) p.approved = true
    for (const wake of this.waiters.get(deviceHash) ?? []) wake()
  }

  private live(p: Pending | undefined): Pending | undefined {
    if (!p) return undefined
    if (p.expiresAt > this.now()) return p
    this.forget(p)
    return undefined
  }

  private forget(p: Pending): void {
    if (this.byCode.get(p.code) === p) this.byCode.delete(p.code)
    this.byDevice.delete(p.deviceHash)
  }

  private sweep(): void {
    const now = this.now()
    for (const p of this.byDevice.values()) if (p.expiresAt <= now - PAIRING_TTL_MS) this.forget(p)
    for (const p of this.byCode.values()) if (p.expiresAt <= now) this.byCode.delete(p.code)
  }
}
