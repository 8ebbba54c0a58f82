/**
 * @module Visitor ids on PostgreSQL (issue 17): the model of visitor-hash.ts (SipHash over site, IP
 * and User-Agent with a daily salt, yesterday's kept for visits across midnight, salts deleted after
 * 48 h), with one salt per day for the whole cluster. A visitor whose beacons land on different
 * instances must get the same id everywhere, so no instance makes a salt of its own: the first one
 * to need a day's salt inserts a random one `ON CONFLICT DO NOTHING` and everyone, itself included,
 * uses the row that won. Each instance notices a new day itself (the first beacon after midnight
 * finds no salt in memory and asks the database once); no announcement is needed, and none could be
 * lost. The pruning of old salts is once per cluster (the leader's rotation job).
 */
import { randomBytes } from 'node:crypto'
import type pg from 'pg'
import type { Job } from '../jobs/scheduler.ts'
import { DAY_MS, utcDay } from '../time.ts'
import type { VisitorIdSource } from './pipeline.ts'
import { sipKey, type SipKey } from './siphash.ts'
import { KEEP_MS, SALT_BYTES, visitorId } from './visitor-hash.ts'

const TAKE_SALT = `WITH made AS (
    INSERT INTO site_salts (day, salt) VALUES ($1, $2) ON CONFLICT (day) DO NOTHING RETURNING salt
  ) SELECT salt FROM made UNION ALL SELECT salt FROM site_salts WHERE day = $1`
const LOAD_SALTS = 'SELECT day::float8 AS day, salt FROM site_salts WHERE day >= $1'
const PRUNE_SALTS = 'DELETE FROM site_salts WHERE day <= $1'

export class PgVisitorIds implements VisitorIdSource {
  private salts = new Map<number, SipKey>()
  /** The fetch of a day's salt in flight, shared by every beacon waiting for it. */
  private fetching: Promise<void> | null = null
  private fetchingDay = -1

  constructor(
    private pool: pg.Pool,
    private now: () => number
  ) {}

  /** Loads yesterday's and today's salts (at start; beacons arriving first wait in `ready`). */
  async load(): Promise<void> {
    const today = utcDay(this.now())
    const rows = (await this.pool.query(LOAD_SALTS, [today - DAY_MS])).rows as { day: number; salt: Buffer }[]
    for (const r of rows) this.salts.set(r.day, sipKey(r.salt))
  }

  ready(): Promise<void> | undefined {
    const day = utcDay(this.now())
    if (this.salts.has(day)) return undefined
    if (this.fetching && this.fetchingDay === day) return this.fetching
    this.fetchingDay = day
    this.fetching = this.take(day).finally(() => {
      if (this.fetchingDay === day) this.fetching = null
    })
    return this.fetching
  }

  /** The cluster's salt for `day`: ours if we are first, else the one already stored. */
  private async take(day: number): Promise<void> {
    let salt: Buffer | undefined
    // Empty only when another instance's insert committed while ours waited on it: our statement's
    // snapshot predates that row, the next statement's does not.
    for (let i = 0; !salt && i < 3; i++)
      salt = (
        (await this.pool.query(TAKE_SALT, [day, randomBytes(SALT_BYTES)])).rows[0] as { salt: Buffer } | undefined
      )?.salt
    if (!salt) throw new Error('visitor ids: the salt of today could not be read')
    // Yesterday's too, in case this instance started after it was made and missed it.
    if (!this.salts.has(day - DAY_MS)) {
      const y = (await this.pool.query('SELECT salt FROM site_salts WHERE day = $1', [day - DAY_MS])).rows[0]
      if (y) this.salts.set(day - DAY_MS, sipKey((y as { salt: Buffer }).salt))
    }
    this.salts.set(day, sipKey(salt))
    // A new day on this instance: salts past their 48 h leave its memory (the leader's job prunes the table).
    for (const d of this.salts.keys()) if (d <= this.now() - KEEP_MS) this.salts.delete(d)
  }

  /** As VisitorIds.idFor; `ready()` has resolved for today. */
  idFor(site: string, ip: string, ua: string, known: (id: string) => boolean): string {
    const day = utcDay(this.now())
    const salt = this.salts.get(day)
    if (!salt) throw new Error('visitor ids: no salt for today yet (await ready() first)')
    return visitorId(salt, this.salts.get(day - DAY_MS), site, ip, ua, known)
  }

  /** Makes sure today's salt exists and deletes salts 48 h old, in memory and (the leader) in the table. */
  async rotate(): Promise<number> {
    await this.ready()
    const cutoff = this.now() - KEEP_MS
    for (const day of this.salts.keys()) if (day <= cutoff) this.salts.delete(day)
    return (await this.pool.query(PRUNE_SALTS, [cutoff])).rowCount ?? 0
  }

  /** The rotation job, once per cluster: at start, then at every 00:00 UTC. */
  rotationJob(): Job {
    return {
      name: 'visitor salt rotation',
      firstAfterMs: 0,
      cluster: 'leader',
      every: () => Math.max(1000, utcDay(this.now()) + DAY_MS - this.now()),
      run: () => this.rotate(),
    }
  }

  /** Salt days held in memory (tests). */
  days(): number[] {
    return [...this.salts.keys()].sort((a, b) => a - b)
  }
}
