/**
 * @module Cookieless visitor ids, Plausible's model: SipHash-2-4 keyed with a random daily salt over
 * (site, IP, User-Agent). A salt is made for each UTC day, the previous day's is kept so a visit
 * across midnight keeps its id, and salts 48 h old are deleted, so an id can't be linked to the
 * same person on a later day. The IP is hashed, never stored.
 */
import { randomBytes } from 'node:crypto'
import type { Sqlite } from '../db/client.ts'
import type { Writer } from '../db/writer.ts'
import { sipHashText, sipKey, type SipKey } from './siphash.ts'

export const DAY_MS = 86_400_000
const SALT_BYTES = 16
const KEEP_MS = 2 * DAY_MS

export const utcDay = (t: number) => Math.floor(t / DAY_MS) * DAY_MS

export class VisitorIds {
  /** Day start → salt, as SipHash's key words. */
  private salts = new Map<number, SipKey>()
  private stmts

  constructor(
    sqlite: Sqlite,
    private writer: Writer,
    private now: () => number
  ) {
    this.stmts = {
      insert: sqlite.prepare('INSERT OR IGNORE INTO site_salts (day, salt) VALUES (?, ?)'),
      prune: sqlite.prepare('DELETE FROM site_salts WHERE day <= ?'),
    }
    const rows = sqlite.prepare<[], { day: number; salt: Buffer }>('SELECT day, salt FROM site_salts').all()
    for (const r of rows) this.salts.set(r.day, sipKey(r.salt))
  }

  /** Today's salt, made on first use after midnight; its write is queued ahead of the caller's. */
  private saltFor(day: number): SipKey {
    let salt = this.salts.get(day)
    if (!salt) {
      const bytes = randomBytes(SALT_BYTES)
      this.salts.set(day, (salt = sipKey(bytes)))
      this.writer.write(() => this.stmts.insert.run(day, bytes)).catch(() => {})
    }
    return salt
  }

  /**
   * The visitor id for (site, ip, ua). When today's id is new but yesterday's salt gives an id
   * `known` still has (a visit that began before midnight), that one is kept.
   */
  idFor(site: string, ip: string, ua: string, known: (id: string) => boolean): string {
    const day = utcDay(this.now())
    const today = hash(this.saltFor(day), site, ip, ua)
    if (known(today)) return today
    const previous = this.salts.get(day - DAY_MS)
    if (previous) {
      const carried = hash(previous, site, ip, ua)
      if (known(carried)) return carried
    }
    return today
  }

  /** Makes today's salt and deletes salts 48 h old (run at 00:00 UTC and by the retention job). */
  async rotate(): Promise<number> {
    const now = this.now()
    this.saltFor(utcDay(now))
    const cutoff = now - KEEP_MS
    for (const day of this.salts.keys()) if (day <= cutoff) this.salts.delete(day)
    return this.writer.write(() => this.stmts.prune.run(cutoff).changes)
  }

  /** Rotates at every 00:00 UTC; returns the stopper. */
  start(onError: (e: unknown) => void): () => void {
    let timer: NodeJS.Timeout
    const schedule = () => {
      const wait = utcDay(this.now()) + DAY_MS - this.now()
      timer = setTimeout(
        () => {
          this.rotate().catch(onError)
          schedule()
        },
        Math.max(1000, wait)
      )
      timer.unref()
    }
    this.rotate().catch(onError)
    schedule()
    return () => clearTimeout(timer)
  }

  /** Salt days held in memory (tests). */
  days(): number[] {
    return [...this.salts.keys()].sort((a, b) => a - b)
  }
}

function hash(salt: SipKey, site: string, ip: string, ua: string): string {
  // NUL separators: no (site, ip, ua) triple can be shifted into another. 64 bits: a collision
  // between two of a site's visitors on one day is a one-in-billions event even at millions.
  return sipHashText(salt, `${site}\0${ip}\0${ua}`)
}
