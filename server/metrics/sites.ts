/**
 * @module The sites /api/collect accepts: SITES from the config, mirrored into the `sites` table at
 * start (rows from SITES follow it; the data of a removed site stays). Also the Origin rule: the
 * site's domain itself, or one of its subdomains when SITES_ALLOW_SUBDOMAINS is on. And which
 * pipelines deploy each site (SITE_DEPLOYS), which the dashboard draws as deploy markers.
 */
import { and, eq, notInArray } from 'drizzle-orm'
import type pg from 'pg'
import type { DeploySource } from '../config.ts'
import type { Db } from '../db/client.ts'
import { sites as sitesTable } from '../db/schema.ts'

export class Sites {
  private set: ReadonlySet<string>

  constructor(
    readonly list: readonly string[],
    private allowSubdomains: boolean,
    private deploySources: readonly DeploySource[] = []
  ) {
    this.set = new Set(list)
  }

  /** The pipelines whose successful builds deploy `site` (none: the site shows no deploy markers). */
  deploysOf(site: string): { project: string; pipeline: string | null; branch: string | null }[] {
    return this.deploySources
      .filter((d) => d.site === site)
      .map(({ project, pipeline, branch }) => ({ project, pipeline, branch }))
  }

  has(site: string): boolean {
    return this.set.has(site)
  }

  /** Whether a page at `origin` (an Origin header value) may report for `site`. */
  originAllowed(origin: string | undefined, site: string): boolean {
    const host = hostOf(origin)
    if (!host) return false
    return host === site || (this.allowSubdomains && host.endsWith(`.${site}`))
  }

  /** Whether `origin` may report for any site (CORS preflight, which names no site). */
  originAllowedForAny(origin: string | undefined): boolean {
    return this.list.some((s) => this.originAllowed(origin, s))
  }

  /** Writes SITES into the `sites` table; run inside a writer op. */
  sync(db: Db, now: number): void {
    if (this.list.length)
      db.insert(sitesTable)
        .values(this.list.map((domain) => ({ domain, source: 'config' as const, createdAt: now })))
        .onConflictDoNothing()
        .run()
    const gone = this.list.length ? notInArray(sitesTable.domain, [...this.list]) : undefined
    db.delete(sitesTable)
      .where(and(eq(sitesTable.source, 'config'), gone))
      .run()
  }

  /** `sync` on PostgreSQL; run inside a PgWriter op. */
  async syncPg(tx: pg.ClientBase, now: number): Promise<void> {
    await tx.query(
      `INSERT INTO sites (domain, source, created_at) SELECT d, 'config', $2 FROM unnest($1::text[]) AS d
        ON CONFLICT (domain) DO NOTHING`,
      [this.list, now]
    )
    await tx.query(`DELETE FROM sites WHERE source = 'config' AND domain <> ALL($1::text[])`, [this.list])
  }
}

/** Origins repeat on every beacon of a site; parsing each once keeps URL parsing off the hot path. */
const hosts = new Map<string, string | null>()
const HOSTS_MAX = 1000

function hostOf(origin: string | undefined): string | null {
  if (!origin || origin === 'null') return null
  let host = hosts.get(origin)
  if (host === undefined) {
    try {
      host = new URL(origin).hostname.toLowerCase()
    } catch {
      host = null
    }
    if (hosts.size >= HOSTS_MAX) hosts.clear()
    hosts.set(origin, host)
  }
  return host
}
