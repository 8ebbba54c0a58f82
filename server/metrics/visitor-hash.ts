/**
 * @module Cookieless visitor ids, Plausible's model: SipHash-2-4 keyed with a random daily salt over
 * (site, IP, User-Agent). A salt is made for each UTC day, the previous day's is kept so a visit
 * across midnight keeps its id, and salts 48 h old are deleted, so an id can't be linked to the
 * same person on a later day. The IP is hashed, never stored.
 */
import { lte, sql } from 'drizzle-orm'
import { randomBytes } from 'node:crypto'
import type { Db } from '../db/client.ts'
import { siteSalts } from '../db/schema.ts'
import type { Writer } from '../db/writer.ts'
import type { Job } from '../jobs/scheduler.ts'
import { DAY_MS, utcDay } from '../time.ts'
import { sipHashText, sipKey, type SipKey } from './siphash.ts'

export const SALT_BYTES = 16
/** A salt's retention: the previous day's is kept for visits across midnight, older ones go. */
export const KEEP_MS = 2 * DAY_MS

export class VisitorIds {
  /** Day start → salt, as SipHash's key words. */
  private salts = new Map<number, SipKey>()
  private stmts

  constructor(
    db: Db,
    private writer: Writer,
    private now: () => number
  ) {
    this.stmts = {
      insert: db
        .insert(siteSalts)
        .values({ day: sql.placeholder('day'), salt: sql.placeholder('salt') })
        .onConflictDoNothing()
        .prepare(),
      prune: db
        .delete(siteSalts)
        .where(lte(siteSalts.day, sql.placeholder('cutoff')))
        .prepare(),
    }
    for (const r of db.select().from(siteSalts).all()) this.salts.set(r.day, sipKey(r.salt))
  }

  /** Today's salt, made on first use after midnight; its write is queued ahead of the caller's. */
  private saltFor(day: number): SipKey {
    let salt = this.salts.get(day)
    if (!salt) {
      const bytes = randomBytes(SALT_BYTES)
      this.salts.set(day, (salt = sipKey(bytes)))
      this.writer.write(() => this.stmts.insert.run({ day, salt: bytes })).catch(() => {})
    }
    return salt
  }

  /**
   * The visitor id for (site, ip, ua). When today's id is new but yesterday's salt gives an id
   * `known` still has (a visit that began before midnight), that one is kept.
   */
  idFor(site: string, ip: string, ua: string, known: (id: string) => boolean): string {
    const day = utcDay(this.now())
    return visitorId(this.saltFor(day), this.salts.get(day - DAY_MS), site, ip, ua, known)
  }

  /** Makes today's salt and deletes salts 48 h old (at 00:00 UTC, and in the retention sweep). */
  async rotate(): Promise<number> {
    const now = this.now()
    this.saltFor(utcDay(now))
    const cutoff = now - KEEP_MS
    for (const day of this.salts.keys()) if (day <= cutoff) this.salts.delete(day)
    return this.writer.write(() => this.stmts.prune.run({ cutoff }).changes)
  }

  /** The rotation job: at start, then at every 00:00 UTC. */
  rotationJob(): Job {
    return {
      name: 'visitor salt rotation',
      firstAfterMs: 0,
      every: () => Math.max(1000, utcDay(this.now()) + DAY_MS - this.now()),
      run: () => this.rotate(),
    }
  }

  /** Salt days held in memory (tests). */
  days(): number[] {
    return [...this.salts.keys()].sort((a, b) => a - b)
  }
}

/** A visitor's id under one day's salt (both engines). */
/**
 * The visitor's id under today's salt, unless yesterday's salt gives an id already present (a visit
 * that spans midnight keeps its visitor): the rule of both engines.
 */
export function visitorId(
  today: SipKey,
  yesterday: SipKey | undefined,
  site: string,
  ip: string,
  ua: string,
  known: (id: string) => boolean
): string {
  const id = hash(today, site, ip, ua)
  if (known(id) || !yesterday) return id
  const carried = hash(yesterday, site, ip, ua)
  return known(carried) ? carried : id
}

export function hash(salt: SipKey, site: string, ip: string, ua: string): string {
  // NUL separators: no (site, ip, ua) triple can be shifted into another. 64 bits: a collision
  // between two of a site's visitors on one day is a one-in-billions event even at millions.
  return sipHashText(salt, `${site}\0${ip}\0${ua}`)
}
