/**
 * @module The one normalized build model. Providers produce `BuildUpdate`s; the store merges them into
 * `Build`s (contract/builds.ts), which the API, live events and the generic hook speak.
 */
import { z } from 'zod'
import {
  type BuildStatus,
  buildStatus,
  commitSchema,
  isoTime,
  jobSchema,
  type ProviderName,
  providerName,
  TERMINAL_STATUSES,
  text,
} from '../../contract/builds.ts'

export function isTerminal(s: BuildStatus): boolean {
  return (TERMINAL_STATUSES as readonly string[]).includes(s)
}

/** Progress order used to resolve out-of-order deliveries of the same attempt: never move backwards. */
export function statusRank(s: BuildStatus): number {
  return s === 'queued' ? 0 : s === 'running' ? 1 : 2
}

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
