/**
 * @module Read-only feeds for tools that poll: /cctray.xml (CCMenu, Nevergreen, BuildNotify,
 * CCDroidX) and status badges (/badge.svg, /badge.json in the shields.io endpoint format).
 */
import { Hono } from 'hono'
import { createHash } from 'node:crypto'
import { z } from 'zod'
import type { Sqlite } from '../db/client.ts'
import { AppError } from '../errors.ts'
import type { PipelineTile } from './model.ts'
import type { BuildStore } from './store.ts'

const filter = z.object({
  project: z.string().max(300).optional(),
  pipeline: z.string().max(300).optional(),
  branch: z.string().max(300).optional(),
  provider: z.string().max(40).optional(),
})
type Filter = z.infer<typeof filter>

const pick = (tiles: PipelineTile[], f: Filter) =>
  tiles.filter(
    (t) =>
      (!f.project || t.project === f.project) &&
      (!f.pipeline || t.pipeline === f.pipeline) &&
      (!f.branch || t.branch === f.branch) &&
      (!f.provider || t.provider === f.provider)
  )

export function xmlEscape(s: string): string {
  return s.replace(/[<>&"']/g, (c) => ({ '<': '&lt;', '>': '&gt;', '&': '&amp;', '"': '&quot;', "'": '&apos;' })[c]!)
}

type BadgeState = 'passing' | 'failing' | 'running' | 'unknown'
const BADGE_COLOR: Record<BadgeState, string> = { passing: '#2e7d32', failing: '#c62828', running: '#1565c0', unknown: '#616161' }
const SHIELDS_COLOR: Record<BadgeState, string> = { passing: 'brightgreen', failing: 'red', running: 'blue', unknown: 'lightgrey' }

/** The worst of the matching tiles: one failing tile makes the badge red. */
function badgeState(tiles: PipelineTile[]): BadgeState {
  if (tiles.length === 0) return 'unknown'
  if (tiles.some((t) => t.brokenSince)) return 'failing'
  if (tiles.every((t) => t.lastSuccessAt && !t.brokenSince)) return 'passing'
  if (tiles.some((t) => t.running)) return 'running'
  return 'unknown'
}

/** Approximate text width of Verdana 11px (what shields-style badges use), to size the boxes. */
function textWidth(s: string): number {
  return Math.round([...s].reduce((w, ch) => w + (/[il.:|!]/.test(ch) ? 3.5 : /[mwMW]/.test(ch) ? 10 : 7), 0)) + 10
}

export function badgeSvg(label: string, state: BadgeState): string {
  const lw = textWidth(label)
  const rw = textWidth(state)
  const w = lw + rw
  const l = xmlEscape(label)
  return `<svg xmlns="http://www.w3.org/2000/svg" width="${w}" height="20" role="img" aria-label="${l}: ${state}"><title>${l}: ${state}</title><rect width="${lw}" height="20" fill="#555"/><rect x="${lw}" width="${rw}" height="20" fill="${BADGE_COLOR[state]}"/><g fill="#fff" text-anchor="middle" font-family="Verdana,Geneva,DejaVu Sans,sans-serif" font-size="11"><text x="${lw / 2}" y="14">${l}</text><text x="${lw + rw / 2}" y="14">${state}</text></g></svg>`
}

export function feedRoutes(sqlite: Sqlite, builds: BuildStore, publicUrl: string | undefined) {
  const app = new Hono()
  const lastDecided = sqlite.prepare<[string], { number: number | null; id: string; url: string | null; finished_at: number | null; updated_at: number }>(
    `SELECT number, id, url, finished_at, updated_at FROM builds WHERE pipeline_id = ? AND status IN ('success','failure')
     ORDER BY coalesce(finished_at, updated_at) DESC LIMIT 1`
  )

  app.get('/cctray.xml', (c) => {
    const tiles = pick(builds.tiles(), filter.parse(c.req.query()))
    const base = publicUrl ?? new URL(c.req.url).origin
    const rows = tiles.map((t) => {
      const last = lastDecided.get(t.id)
      // Canceled and skipped builds keep the previous status, as cctray clients expect.
      const status = last ? (t.brokenSince ? 'Failure' : 'Success') : 'Unknown'
      const time = last ? new Date(last.finished_at ?? last.updated_at).toISOString() : t.updatedAt
      const label = last ? String(last.number ?? last.id) : '0'
      const web = t.latest?.url ?? `${base}/pipelines/${t.id}`
      const name = `${t.project} :: ${t.pipeline} :: ${t.branch}`
      return `  <Project name="${xmlEscape(name)}" activity="${t.running ? 'Building' : 'Sleeping'}" lastBuildStatus="${status}" lastBuildLabel="${xmlEscape(label)}" lastBuildTime="${time}" webUrl="${xmlEscape(web)}"/>`
    })
    const xml = `<?xml version="1.0" encoding="UTF-8"?>\n<Projects>\n${rows.join('\n')}${rows.length ? '\n' : ''}</Projects>\n`
    return c.body(xml, 200, { 'content-type': 'application/xml; charset=utf-8', 'cache-control': 'no-cache' })
  })

  const badgeInput = (q: Record<string, string>) => {
    const f = filter.parse(q)
    if (!f.project) throw new AppError('BAD_REQUEST', 'project is required, e.g. /badge.svg?project=acme/web&branch=main')
    return { f, state: badgeState(pick(builds.tiles(), f)), label: z.string().max(60).default('build').parse(q.label) }
  }

  app.get('/badge.svg', (c) => {
    const { state, label } = badgeInput(c.req.query())
    const svg = badgeSvg(label, state)
    const etag = `"${createHash('sha1').update(svg).digest('base64url')}"`
    const headers = { etag, 'cache-control': 'no-cache', 'content-type': 'image/svg+xml; charset=utf-8' }
    if (c.req.header('if-none-match') === etag) return c.body(null, 304, headers)
    return c.body(svg, 200, headers)
  })

  app.get('/badge.json', (c) => {
    const { state, label } = badgeInput(c.req.query())
    return c.json({ schemaVersion: 1, label, message: state, color: SHIELDS_COLOR[state] }, 200, { 'cache-control': 'no-cache' })
  })

  return app
}
