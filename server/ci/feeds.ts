/**
 * @module Read-only feeds for tools that poll: /cctray.xml (CCMenu, Nevergreen, BuildNotify,
 * CCDroidX) and status badges (/badge.svg, /badge.json in the shields.io endpoint format).
 */
import { Hono } from 'hono'
import { createHash } from 'node:crypto'
import { z } from 'zod'
import { errorBody, zodMessage } from '../errors.ts'
import type { PipelineTile } from '../../contract/builds.ts'
import { providerParam } from './registry.ts'
import type { CiReads } from './reads.ts'
import { access } from '../access/guard.ts'

const filter = z.object({
  project: z.string().max(300).optional(),
  pipeline: z.string().max(300).optional(),
  branch: z.string().max(300).optional(),
  provider: z.string().max(40).optional(),
})
type Filter = z.infer<typeof filter>

// A badge URL is typed by hand into a README: a misspelt filter (`?brnach=`) or provider must say
// so rather than quietly widen the badge to every branch or match nothing.
const badgeQuery = z.strictObject({
  project: z.string({ error: 'project is required, e.g. /badge.svg?project=acme/web&branch=main' }).min(1).max(300),
  pipeline: z.string().max(300).optional(),
  branch: z.string().max(300).optional(),
  provider: providerParam.optional(),
  label: z.string().max(60).default('build'),
})

const pick = (tiles: PipelineTile[], f: Filter) =>
  tiles.filter(
    (t) =>
      (!f.project || t.project === f.project) &&
      (!f.pipeline || t.pipeline === f.pipeline) &&
      (!f.branch || t.branch === f.branch) &&
      (!f.provider || t.provider === f.provider)
  )

/**
 * Per pipeline, the tile of its default branch, as CI and shields badges show: a red pull-request
 * branch must not turn a README badge red. Builds do not carry the repository's default branch, so
 * it is the conventional name (main first, then master, then the other `isDefaultBranch` names);
 * a branchless pipeline (Jenkins freestyle, the generic hook without `branch`) is its own default.
 * A pipeline that has built none of these adds nothing to the badge.
 */
export function defaultBranchTiles(tiles: PipelineTile[]): PipelineTile[] {
  const rank = (t: PipelineTile) =>
    t.branch === 'main' ? 0 : t.branch === 'master' ? 1 : t.isDefaultBranch ? 2 : t.branch === '' ? 3 : null
  const best = new Map<string, { tile: PipelineTile; rank: number }>()
  for (const t of tiles) {
    const r = rank(t)
    if (r === null) continue
    const key = `${t.provider}\0${t.project}\0${t.pipeline}`
    const cur = best.get(key)
    if (!cur || r < cur.rank) best.set(key, { tile: t, rank: r })
  }
  return [...best.values()].map((b) => b.tile)
}

// XML 1.0 `Char` excludes these: C0 controls but tab/LF/CR, unpaired surrogates (matched one by
// one under the `u` flag), U+FFFE and U+FFFF. One of them makes a strict client reject the whole
// document, so each becomes U+FFFD.
const XML_UNSAFE = /[<>&"'\t\n\r]|[\x00-\x08\x0B\x0C\x0E-\x1F\uD800-\uDFFF\uFFFE\uFFFF]/gu
const XML_REFS: Record<string, string> = {
  '<': '&lt;',
  '>': '&gt;',
  '&': '&amp;',
  '"': '&quot;',
  "'": '&apos;',
  // As references they survive attribute-value normalisation (which turns them into spaces) and
  // end-of-line normalisation (CR to LF), in attributes and text alike.
  '\t': '&#9;',
  '\n': '&#10;',
  '\r': '&#13;',
}

/** Any string as legal XML 1.0 text or attribute value: markup escaped, forbidden characters replaced by U+FFFD. */
export function xmlEscape(s: string): string {
  return s.replace(XML_UNSAFE, (c) => XML_REFS[c] ?? '\uFFFD')
}

type BadgeState = 'passing' | 'failing' | 'running' | 'unknown'
const BADGE_COLOR: Record<BadgeState, string> = {
  passing: '#2e7d32',
  failing: '#c62828',
  running: '#1565c0',
  unknown: '#616161',
}
const SHIELDS_COLOR: Record<BadgeState, string> = {
  passing: 'brightgreen',
  failing: 'red',
  running: 'blue',
  unknown: 'lightgrey',
}

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
  const r = xmlEscape(state)
  return `<svg xmlns="http://www.w3.org/2000/svg" width="${w}" height="20" role="img" aria-label="${l}: ${r}"><title>${l}: ${r}</title><rect width="${lw}" height="20" fill="#555"/><rect x="${lw}" width="${rw}" height="20" fill="${BADGE_COLOR[state]}"/><g fill="#fff" text-anchor="middle" font-family="Verdana,Geneva,DejaVu Sans,sans-serif" font-size="11"><text x="${lw / 2}" y="14">${l}</text><text x="${lw + rw / 2}" y="14">${r}</text></g></svg>`
}

export function feedRoutes(reads: CiReads, publicUrl: string | undefined) {
  const app = new Hono()

  app.get('/cctray.xml', access.feed, async (c) => {
    const tiles = pick(await reads.tiles(), filter.parse(c.req.query()))
    const decided = await reads.lastDecided(tiles.map((t) => t.id))
    const base = publicUrl ?? new URL(c.req.url).origin
    const rows = tiles.map((t) => {
      const last = decided.get(t.id)
      const status = last ? (t.brokenSince ? 'Failure' : 'Success') : 'Unknown'
      const time = last ? new Date(last.finishedAt ?? last.updatedAt).toISOString() : t.updatedAt
      const label = last ? String(last.number ?? last.id) : '0'
      const web = t.latest?.url ?? `${base}/pipelines/${t.id}`
      const name = `${t.project} :: ${t.pipeline} :: ${t.branch}`
      const attrs = {
        name,
        activity: t.running ? 'Building' : 'Sleeping',
        lastBuildStatus: status,
        lastBuildLabel: label,
        lastBuildTime: time,
        webUrl: web,
      }
      return `  <Project${Object.entries(attrs)
        .map(([k, v]) => ` ${k}="${xmlEscape(v)}"`)
        .join('')}/>`
    })
    const xml = `<?xml version="1.0" encoding="UTF-8"?>\n<Projects>\n${rows.join('\n')}${rows.length ? '\n' : ''}</Projects>\n`
    return c.body(xml, 200, { 'content-type': 'application/xml; charset=utf-8', 'cache-control': 'no-cache' })
  })

  /** The badge's label and state, or why the query is wrong. */
  const badgeFor = async (
    q: Record<string, string>
  ): Promise<{ label: string; state: BadgeState } | { error: string }> => {
    const r = badgeQuery.safeParse(q)
    if (!r.success) return { error: zodMessage(r.error) }
    const { label, ...f } = r.data
    const matching = pick(await reads.tiles(), f)
    return { label, state: badgeState(f.branch ? matching : defaultBranchTiles(matching)) }
  }

  app.get('/badge.svg', access.feed, async (c) => {
    const b = await badgeFor(c.req.query())
    if ('error' in b) return c.json(errorBody('BAD_REQUEST', b.error), 400)
    const svg = badgeSvg(b.label, b.state)
    const etag = `"${createHash('sha1').update(svg).digest('base64url')}"`
    const headers = { etag, 'cache-control': 'no-cache', 'content-type': 'image/svg+xml; charset=utf-8' }
    if (c.req.header('if-none-match') === etag) return c.body(null, 304, headers)
    return c.body(svg, 200, headers)
  })

  app.get('/badge.json', access.feed, async (c) => {
    const b = await badgeFor(c.req.query())
    // shields.io reads the body of a 200 only (any other status becomes its own "inaccessible"),
    // so a bad query is a 200 in the endpoint schema with isError: the README shows what is wrong.
    if ('error' in b)
      return c.json({ schemaVersion: 1, label: 'radiator', message: b.error, isError: true, color: 'lightgrey' }, 200, {
        'cache-control': 'no-store',
      })
    return c.json({ schemaVersion: 1, label: b.label, message: b.state, color: SHIELDS_COLOR[b.state] }, 200, {
      'cache-control': 'no-cache',
    })
  })

  return app
}
