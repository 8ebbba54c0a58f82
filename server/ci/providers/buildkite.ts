/**
 * @module Buildkite pipeline webhooks (`build.*`, `job.*`, `ping`). The `build` object is the REST
 * Build without `jobs`; a fast transition can deliver a later state than the event name says, so
 * the status comes from `build.state`, never from the event.
 */
import { emptyUpdate, isTerminal, type BuildUpdate } from '../model.ts'
import type { BuildStatus } from '../../../contract/builds.ts'
import { BadPayload, type Delivery, type NormalizeResult, defineProvider, secretVar } from '../provider.ts'
import { requiredTime, spanMs, toIso } from '../time.ts'
import { fail, hmacHex, OK, secretList } from '../verify.ts'
import { secretIn } from '../../http/auth.ts'
import { firstLine, int, lookup, obj, str, type Obj } from '../payload.ts'

const SECRET_VAR = 'BUILDKITE_WEBHOOK_TOKEN'
/** The header naming the event. */
const EVENT_HEADER = 'x-buildkite-event'
const WINDOW_S = 5 * 60

const BUILD_STATE: Record<string, BuildStatus> = {
  creating: 'queued',
  scheduled: 'queued',
  waiting: 'queued',
  blocked: 'queued',
  running: 'running',
  failing: 'running',
  canceling: 'running',
  passed: 'success',
  failed: 'failure',
  waiting_failed: 'failure',
  canceled: 'canceled',
  skipped: 'skipped',
  not_run: 'skipped',
}

const JOB_STATE: Record<string, BuildStatus> = {
  pending: 'queued',
  waiting: 'queued',
  blocked: 'queued',
  limiting: 'queued',
  limited: 'queued',
  scheduled: 'queued',
  assigned: 'queued',
  accepted: 'queued',
  running: 'running',
  canceling: 'running',
  timing_out: 'running',
  passed: 'success',
  unblocked: 'success',
  failed: 'failure',
  timed_out: 'failure',
  expired: 'failure',
  waiting_failed: 'failure',
  blocked_failed: 'failure',
  unblocked_failed: 'failure',
  canceled: 'canceled',
  skipped: 'skipped',
  // Its configuration or dependencies mean it can't run; GraphQL once reported it as skipped.
  broken: 'skipped',
}

const JOB_EVENTS = ['job.scheduled', 'job.started', 'job.finished']

function verify(d: Delivery, secrets: Record<string, readonly string[]>) {
  const keys = secretList(secrets, SECRET_VAR)
  const signature = d.headers.get('x-buildkite-signature')
  if (signature !== null) {
    const parts = new Map(signature.split(',').map((p) => p.trim().split('=', 2) as [string, string]))
    const ts = parts.get('timestamp') ?? ''
    const given = parts.get('signature')
    if (!/^\d{1,12}$/.test(ts) || !given) return fail('malformed X-Buildkite-Signature header')
    // The docs' and the Go client's verifiers sign "<timestamp>.<body>", not the body alone.
    if (!secretIn(given.toLowerCase(), keys, (k) => hmacHex(k, `${ts}.`, d.raw))) {
      return fail('X-Buildkite-Signature does not match the body')
    }
    // Both directions: a future timestamp is as replayable as an old one.
    const skew = Math.abs(d.receivedAt / 1000 - Number(ts))
    return skew <= WINDOW_S ? OK : fail('X-Buildkite-Signature timestamp is not within 5 minutes')
  }
  const token = d.headers.get('x-buildkite-token')
  if (token !== null) {
    return secretIn(token, keys) ? OK : fail('X-Buildkite-Token does not match')
  }
  return fail('missing X-Buildkite-Signature or X-Buildkite-Token header')
}

/** `org/pipeline` from `https://buildkite.com/<org>/<pipeline>/builds/<n>` or the API URL. */
function projectName(build: Obj, pipeline: Obj | undefined): string {
  const web = /^https?:\/\/[^/]+\/([^/]+)\/([^/]+)\/builds\//.exec(str(build.web_url, 2000) ?? '')
  if (web) return `${web[1]}/${web[2]}`.slice(0, 300)
  const api = /\/organizations\/([^/]+)\/pipelines\/([^/]+)/.exec(str(pipeline?.url, 2000) ?? '')
  if (api) return `${api[1]}/${api[2]}`.slice(0, 300)
  const slug = str(pipeline?.slug)
  if (!slug) throw new BadPayload('cannot tell the pipeline: no build.web_url or pipeline.slug')
  return slug
}

/** The build-level fields every build and job event carries. */
function fromBuild(build: Obj, b: Obj): BuildUpdate {
  const buildId = str(build.id, 200)
  if (!buildId) throw new BadPayload('missing build.id')
  const pipeline = obj(b.pipeline)
  const u = emptyUpdate('buildkite', buildId, projectName(build, pipeline))
  const creator = obj(build.creator)
  const prId = obj(build.pull_request)?.id
  const prText = typeof prId === 'string' || typeof prId === 'number' ? String(prId) : ''
  u.pipeline = str(pipeline?.name) ?? str(pipeline?.slug) ?? ''
  u.branch = str(build.branch) ?? ''
  u.tag = str(build.tag)
  u.pullRequest = /^\d{1,9}$/.test(prText) ? Number(prText) : null
  u.number = int(build.number)
  u.commit = {
    sha: str(build.commit, 80),
    subject: firstLine(build.message),
    author: str(obj(build.author)?.name, 200) ?? str(creator?.name, 200),
  }
  u.actor = str(creator?.name, 200) ?? str(obj(b.sender)?.name, 200)
  u.url = str(build.web_url, 2000)
  u.trigger = str(build.source, 100)
  const created = requiredTime(build, 'created_at', 'build.created_at')
  u.queuedAt = toIso(build.scheduled_at) ?? created
  u.startedAt = toIso(build.started_at)
  return u
}

function normalize(d: Delivery, body: unknown): NormalizeResult {
  const b = obj(body)
  if (!b) throw new BadPayload('body is not a JSON object')
  const event = str(b.event, 100) ?? d.headers.get(EVENT_HEADER) ?? 'unknown'
  if (event === 'ping') return { kind: 'ping', event }
  const isJob = JOB_EVENTS.includes(event)
  if (!event.startsWith('build.') && !isJob) {
    return { kind: 'ignored', event, reason: `not a build progress event: ${event}` }
  }
  const build = obj(b.build)
  if (!build) throw new BadPayload('missing build')
  const u = fromBuild(build, b)
  const state = str(build.state, 50)

  if (isJob) {
    const job = obj(b.job)
    const jobId = str(job?.id, 200)
    if (!job || !jobId) throw new BadPayload('missing job.id')
    const status = lookup(JOB_STATE, job.state)
    if (!status) return { kind: 'ignored', event, reason: `unknown job state: ${str(job.state)}` }
    const startedAt = toIso(job.started_at)
    const finishedAt = isTerminal(status) ? toIso(job.finished_at) : null
    // A job event moves its build along but never finishes it; build.finished does.
    u.status = event === 'job.scheduled' ? 'queued' : 'running'
    u.fromJob = true
    u.carriesBuild = true
    u.jobs = [
      {
        id: jobId,
        name: str(job.name) ?? str(job.label) ?? str(job.step_key) ?? '',
        status,
        startedAt,
        finishedAt,
        url: str(job.web_url, 2000),
      },
    ]
    u.eventTime = finishedAt ?? startedAt ?? toIso(job.scheduled_at) ?? toIso(job.created_at)
    const deliveryId = `buildkite:${u.externalId}:${event}:${jobId}:${str(job.state, 50)}`
    return { kind: 'build', event, deliveryId, update: u }
  }

  let status = lookup(BUILD_STATE, state)
  if (!status) return { kind: 'ignored', event, reason: `unknown build state: ${state}` }
  // A build paused at a block step finishes as passed with blocked:true; it is waiting, not done.
  if (build.blocked === true && status === 'success') status = 'queued'
  u.status = status
  if (isTerminal(status)) {
    u.finishedAt = toIso(build.finished_at)
    u.durationMs = spanMs(u.startedAt, u.finishedAt)
  }
  u.eventTime = u.finishedAt ?? u.startedAt ?? u.queuedAt
  // Blocked and later unblocked builds both finish as passed: the flag keeps their keys apart.
  const blocked = build.blocked === true ? ':blocked' : ''
  const deliveryId = `buildkite:${u.externalId}:${event}:${state}${blocked}`
  return { kind: 'build', event, deliveryId, update: u }
}

export const buildkite = defineProvider({
  name: 'buildkite',
  title: 'Buildkite',
  secrets: { [SECRET_VAR]: secretVar('comma-separated tokens') },
  eventHeaders: [EVENT_HEADER],
  verify,
  normalize,
})
