/**
 * @module Builds as they cross a boundary: the shapes the API, the live stream and the dashboard speak,
 * as zod schemas that are also the types (the web imports them type-only). The words they use (statuses,
 * transitions, delivery outcomes) are vocabularies.ts's, re-exported here for the server's convenience.
 */
import { z } from 'zod'

import { BUILD_STATUSES } from './vocabularies.ts'

export {
  BUILD_STATUSES,
  type BuildStatus,
  DELIVERY_OUTCOMES,
  type DeliveryOutcome,
  TERMINAL_STATUSES,
  TRANSITIONS,
  type Transition,
} from './vocabularies.ts'

export const buildStatus = z.enum(BUILD_STATUSES)

/**
 * A provider's route name. The list of providers is the server's registry (server/ci/registry.ts):
 * adding one must not touch the contract, and nothing on the wire depends on which ones exist.
 */
export const providerName = z
  .string()
  .min(1)
  .max(40)
  .regex(/^[a-z0-9][a-z0-9-]*$/, 'a provider route name')
export type ProviderName = z.infer<typeof providerName>

// Untrusted text from CI: bounded so a hostile payload can't bloat rows or screens.
export const text = (max: number) => z.string().max(max)
export const isoTime = z.iso.datetime({ offset: true })

export const jobSchema = z.object({
  name: text(300),
  status: buildStatus,
  startedAt: isoTime.nullable(),
  finishedAt: isoTime.nullable(),
  url: text(2000).nullable(),
})
export type Job = z.infer<typeof jobSchema>

export const commitSchema = z.object({
  sha: text(80).nullable(),
  subject: text(1000).nullable(),
  author: text(200).nullable(),
})

/** A build as the API, live events and the dashboard see it. */
export const buildSchema = z.object({
  id: z.string(),
  provider: providerName,
  project: z.string(),
  pipeline: z.string(),
  branch: z.string(),
  tag: z.string().nullable(),
  pullRequest: z.number().nullable(),
  number: z.number().nullable(),
  attempt: z.number(),
  status: buildStatus,
  commit: commitSchema,
  actor: z.string().nullable(),
  url: z.string().nullable(),
  trigger: z.string().nullable(),
  queuedAt: z.string().nullable(),
  startedAt: z.string().nullable(),
  finishedAt: z.string().nullable(),
  durationMs: z.number().nullable(),
  updatedAt: z.string(),
  jobs: z.array(jobSchema).optional(),
})
export type Build = z.infer<typeof buildSchema>

/** One board tile: a (provider, project, pipeline, branch) and what the board shows about it. */
export const pipelineTileSchema = z.object({
  id: z.string(),
  provider: providerName,
  project: z.string(),
  pipeline: z.string(),
  branch: z.string(),
  isDefaultBranch: z.boolean(),
  /** The newest build (by creation), whatever its state. */
  latest: buildSchema.nullable(),
  /** The newest build still queued or running, if any. */
  running: buildSchema.nullable(),
  lastSuccessAt: z.string().nullable(),
  lastFailureAt: z.string().nullable(),
  /** While failing: since when, by whom (the actor or commit author of the first failing build). */
  brokenSince: z.string().nullable(),
  brokenBy: z.string().nullable(),
  /** After a recovery: who fixed it. */
  fixedBy: z.string().nullable(),
  /** Median duration of the last 10 successful builds: the estimate a running build is measured against. */
  medianDurationMs: z.number().nullable(),
  /** Share of successes among the last 20 finished (success/failure) builds; null with none. */
  successRate: z.number().nullable(),
  /** Statuses of the last 10 builds, newest first: for streaks and flakiness hints. */
  recent: z.array(buildStatus),
  updatedAt: z.string(),
})
export type PipelineTile = z.infer<typeof pipelineTileSchema>

/** GET /api/builds: newest first, `nextCursor` for the page after (null on the last). */
export const buildsPageSchema = z.object({ builds: z.array(buildSchema), nextCursor: z.string().nullable() })
export type BuildsPage = z.infer<typeof buildsPageSchema>
