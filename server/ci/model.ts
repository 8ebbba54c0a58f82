/**
 * @module The one normalized build model. Providers produce `BuildUpdate`s; the store merges them into
 * `Build`s; the API, live events and the generic hook speak `Build`. Defined once here with zod.
 */
import { z } from 'zod'

export const BUILD_STATUSES = ['queued', 'running', 'success', 'failure', 'canceled', 'skipped'] as const
export const TERMINAL_STATUSES = ['success', 'failure', 'canceled', 'skipped'] as const
export const PROVIDERS = [
  'github',
  'gitea',
  'gitlab',
  'circleci',
  'buildkite',
  'bitbucket',
  'azure-devops',
  'drone',
  'jenkins',
  'generic',
] as const
export const TRANSITIONS = ['passed', 'fixed', 'broken', 'still_failing', 'canceled', 'skipped'] as const

export const buildStatus = z.enum(BUILD_STATUSES)
export const providerName = z.enum(PROVIDERS)
export type BuildStatus = z.infer<typeof buildStatus>
export type ProviderName = z.infer<typeof providerName>
export type Transition = (typeof TRANSITIONS)[number]

export function isTerminal(s: BuildStatus): boolean {
  return (TERMINAL_STATUSES as readonly string[]).includes(s)
}

/** Progress order used to resolve out-of-order deliveries of the same attempt: never move backwards. */
export function statusRank(s: BuildStatus): number {
  return s === 'queued' ? 0 : s === 'running' ? 1 : 2
}

// Untrusted text from CI: bounded so a hostile payload can't bloat rows or screens.
const text = (max: number) => z.string().max(max)
const isoTime = z.iso.datetime({ offset: true })

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

/** What one delivery says about one build (attempt). Fields a delivery does not know are null. */
export const buildUpdateSchema = z.object({
  provider: providerName,
  /** The provider's id of the build, stable across re-runs (run id, pipeline id, workflow id…). */
  externalId: text(200).min(1),
  attempt: z.number().int().min(1).max(10_000),
  project: text(300).min(1),
  pipeline: text(300),
  branch: text(300),
  tag: text(300).nullable(),
  pullRequest: z.number().int().nonnegative().nullable(),
  number: z.number().int().nonnegative().nullable(),
  status: buildStatus,
  commit: commitSchema,
  actor: text(200).nullable(),
  url: text(2000).nullable(),
  trigger: text(100).nullable(),
  queuedAt: isoTime.nullable(),
  startedAt: isoTime.nullable(),
  finishedAt: isoTime.nullable(),
  durationMs: z.number().int().nonnegative().nullable(),
  jobs: z.array(jobSchema.extend({ id: text(200) })).max(500),
  /**
   * True when the update comes from a job event: it can move the build to running and attach jobs,
   * but never finishes it and never overwrites build-level fields it does not carry.
   */
  fromJob: z.boolean(),
  /**
   * Set on a job update whose project, pipeline and branch are read from the build object the job
   * event carries (CircleCI's workflow, Buildkite's build): it may open its build. Any other job
   * update names the build from fields of its own, so it waits until the build arrives.
   */
  carriesBuild: z.literal(true).optional(),
  /** The provider's own time of this state, used to order deliveries (not the arrival time). */
  eventTime: isoTime.nullable(),
})
export type BuildUpdate = z.infer<typeof buildUpdateSchema>

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

/** An update with everything optional but identity, for providers to fill what they know. */
export function emptyUpdate(provider: ProviderName, externalId: string, project: string): BuildUpdate {
  return {
    provider,
    externalId,
    attempt: 1,
    project,
    pipeline: '',
    branch: '',
    tag: null,
    pullRequest: null,
    number: null,
    status: 'queued',
    commit: { sha: null, subject: null, author: null },
    actor: null,
    url: null,
    trigger: null,
    queuedAt: null,
    startedAt: null,
    finishedAt: null,
    durationMs: null,
    jobs: [],
    fromJob: false,
    eventTime: null,
  }
}

const DEFAULT_BRANCHES = new Set(['main', 'master', 'trunk', 'default', 'develop', 'development'])
/** Providers rarely say which branch is the default; these names are, almost everywhere. */
export function isDefaultBranchName(branch: string): boolean {
  return DEFAULT_BRANCHES.has(branch)
}

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
