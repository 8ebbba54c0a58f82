/** @module GET /api/builds, /api/builds/:id, /api/pipelines, /api/deliveries. */
import { Hono } from 'hono'
import { z } from 'zod'
import type { Sqlite } from '../db/client.ts'
import { AppError } from '../errors.ts'
import { buildStatus } from '../../contract/builds.ts'
import { providerParam } from './registry.ts'
import { rowToBuild, type BuildStore } from './store.ts'
import { DELIVERY_OUTCOMES } from '../../contract/vocabularies.ts'
import { access } from '../access/guard.ts'

const cursor = z
  .string()
  .regex(/^\d+:[\s\S]+$/)
  .transform((s) => {
    const i = s.indexOf(':')
    return { t: Number(s.slice(0, i)), id: s.slice(i + 1) }
  })

const buildsQuery = z.object({
  project: z.string().max(300).optional(),
  pipeline: z.string().max(300).optional(),
  pipelineId: z.string().max(64).optional(),
  branch: z.string().max(300).optional(),
  provider: providerParam.optional(),
  status: buildStatus.optional(),
  limit: z.coerce.number().int().min(1).max(200).default(50),
  cursor: cursor.optional(),
})

const deliveriesQuery = z.object({
  provider: providerParam.optional(),
  outcome: z.enum(DELIVERY_OUTCOMES).optional(),
  limit: z.coerce.number().int().min(1).max(500).default(100),
  cursor: z.coerce.number().int().positive().optional(),
})

export function apiRoutes(sqlite: Sqlite, builds: BuildStore) {
  const app = new Hono()

  app.get('/builds', access.viewer, (c) => {
    const q = buildsQuery.parse(c.req.query())
    const where: string[] = []
    const args: unknown[] = []
    const eq = (col: string, v: unknown) => {
      if (v !== undefined) {
        where.push(`${col} = ?`)
        args.push(v)
      }
    }
    eq('project', q.project)
    eq('pipeline', q.pipeline)
    eq('pipeline_id', q.pipelineId)
    eq('branch', q.branch)
    eq('provider', q.provider)
    eq('status', q.status)
    if (q.cursor) {
      where.push('(updated_at < ? OR (updated_at = ? AND id < ?))')
      args.push(q.cursor.t, q.cursor.t, q.cursor.id)
    }
    const sql = `SELECT * FROM builds ${where.length ? `WHERE ${where.join(' AND ')}` : ''}
      ORDER BY updated_at DESC, id DESC LIMIT ?`
    const rows = sqlite.prepare(sql).all(...args, q.limit + 1) as Parameters<typeof rowToBuild>[0][]
    const page = rows.slice(0, q.limit)
    const last = page.at(-1)
    return c.json({
      builds: page.map((r) => rowToBuild(r)),
      nextCursor: rows.length > q.limit && last ? `${last.updated_at}:${last.id}` : null,
    })
  })

  app.get('/builds/:id', access.viewer, (c) => {
    const b = builds.getBuild(c.req.param('id'))
    if (!b) throw new AppError('NOT_FOUND', 'no such build')
    return c.json(b)
  })

  app.get('/pipelines', access.viewer, (c) => c.json({ pipelines: builds.tiles() }))

  app.get('/pipelines/:id', access.viewer, (c) => {
    const t = builds.getTile(c.req.param('id'))
    if (!t) throw new AppError('NOT_FOUND', 'no such pipeline')
    return c.json(t)
  })

  app.get('/deliveries', access.admin, (c) => {
    const q = deliveriesQuery.parse(c.req.query())
    const where: string[] = []
    const args: unknown[] = []
    const filter = (clause: string, value: unknown) => {
      where.push(clause)
      args.push(value)
    }
    if (q.provider) filter('provider = ?', q.provider)
    if (q.outcome) filter('outcome = ?', q.outcome)
    if (q.cursor) filter('id < ?', q.cursor)
    const rows = sqlite
      .prepare(
        `SELECT id, provider, event, delivery_id AS deliveryId, received_at AS receivedAt, outcome, reason, size,
         build_id AS buildId FROM deliveries ${where.length ? `WHERE ${where.join(' AND ')}` : ''}
         ORDER BY id DESC LIMIT ?`
      )
      .all(...args, q.limit + 1) as { id: number; receivedAt: number }[]
    const page = rows.slice(0, q.limit).map((r) => ({ ...r, receivedAt: new Date(r.receivedAt).toISOString() }))
    return c.json({ deliveries: page, nextCursor: rows.length > q.limit ? page.at(-1)!.id : null })
  })

  return app
}
