/**
 * @module GitLab CI webhooks: `Pipeline Hook` (body `object_kind: pipeline`) and `Job Hook`
 * (`object_kind: build`). Authenticated by the classic plain `X-Gitlab-Token` or by a Standard
 * Webhooks signing token; either one is enough. GitLab times are "YYYY-MM-DD HH:MM:SS UTC".
 */
import { emptyUpdate, isTerminal, type BuildUpdate } from '../model.ts'
import type { BuildStatus } from '../../../contract/builds.ts'
import {
  BadPayload,
  type Delivery,
  type NormalizeResult,
  defineProvider,
  secretVar,
  type VerifyResult,
} from '../provider.ts'
import { requiredTime, secondsToMs, shiftIso, spanMs, toIso } from '../time.ts'
import { fail, hmacBase64, OK, secretList } from '../verify.ts'
import { secretIn } from '../../http/auth.ts'
import { arr, firstLine, idOf, int, lookup, obj, str, urlPath, type Obj } from '../payload.ts'

const TOKEN_VAR = 'GITLAB_WEBHOOK_TOKEN'
const SIGNING_VAR = 'GITLAB_WEBHOOK_SIGNING_TOKEN'
/** The header naming the event. */
const EVENT_HEADER = 'x-gitlab-event'
/** Standard Webhooks' reference tolerance; GitLab states none. */
const TOLERANCE_S = 5 * 60

const STATUS: Record<string, BuildStatus> = {
  created: 'queued',
  waiting_for_resource: 'queued',
  preparing: 'queued',
  waiting_for_callback: 'queued',
  pending: 'queued',
  scheduled: 'queued',
  manual: 'queued',
  running: 'running',
  canceling: 'running',
  success: 'success',
  failed: 'failure',
  canceled: 'canceled',
  skipped: 'skipped',
}

const statusOf = (v: unknown): BuildStatus | undefined => lookup(STATUS, str(v))
/** Newer job payloads add ISO `<name>_iso` twins of the GitLab-format times. */
const timeOf = (o: Obj, name: string): string | null => toIso(o[`${name}_iso`]) ?? toIso(o[name])

/** `whsec_<base64>` → key bytes; null when none are left (anyone can sign with an empty key). */
function signingKey(token: string): Buffer | null {
  const key = Buffer.from(token.startsWith('whsec_') ? token.slice(6) : token, 'base64')
  return key.length > 0 ? key : null
}

function verifySigned(d: Delivery, tokens: readonly string[]): VerifyResult {
  const id = d.headers.get('webhook-id')
  const ts = d.headers.get('webhook-timestamp')
  const signature = d.headers.get('webhook-signature') ?? ''
  if (!id || !ts) return fail('missing webhook-id or webhook-timestamp header')
  if (!/^\d{1,12}$/.test(ts)) return fail('webhook-timestamp is not unix seconds')
  if (Math.abs(d.receivedAt / 1000 - Number(ts)) > TOLERANCE_S) {
    return fail('webhook-timestamp is more than 5 minutes from the server clock')
  }
  const keys = tokens.filter((t) => signingKey(t) !== null)
  if (keys.length === 0) return fail(`${SIGNING_VAR} is not a whsec_<base64 key> token`)
  const given = signature
    .split(' ')
    .filter((s) => s.startsWith('v1,'))
    .map((s) => s.slice(3))
  if (given.length === 0) return fail('webhook-signature has no v1 signature')
  let ok = false
  for (const g of given) {
    ok = secretIn(g, keys, (t) => hmacBase64(signingKey(t)!, `${id}.${ts}.`, d.raw)) || ok
  }
  return ok ? OK : fail('webhook-signature does not match the body')
}

function verify(d: Delivery, secrets: Record<string, readonly string[]>): VerifyResult {
  const tokens = secretList(secrets, TOKEN_VAR)
  const signing = secretList(secrets, SIGNING_VAR)
  const token = d.headers.get('x-gitlab-token')
  const signed = d.headers.has('webhook-signature')
  if (token === null && !signed) return fail('missing X-Gitlab-Token or webhook-signature header')
  // GitLab may send both; whichever is configured and valid is enough.
  const reasons: string[] = []
  if (token !== null && tokens.length > 0) {
    if (secretIn(token, tokens)) return OK
    reasons.push('X-Gitlab-Token does not match')
  }
  if (signed && signing.length > 0) {
    const r = verifySigned(d, signing)
    if (r.ok) return OK
    reasons.push(r.reason)
  }
  if (reasons.length === 0) {
    const missing = token !== null ? TOKEN_VAR : SIGNING_VAR
    return fail(`GitLab sent a ${token !== null ? 'token' : 'signature'} but ${missing} is not set`)
  }
  return fail(reasons.join('; '))
}

/** Pipeline hooks list every attempt of a retried job (2017 payloads); keep the latest. */
function latestJobs(builds: unknown, webUrl: string | null): BuildUpdate['jobs'] {
  const latest = new Map<string, { n: number; job: BuildUpdate['jobs'][number] }>()
  for (const raw of arr(builds)) {
    const b = obj(raw)
    const id = int(b?.id)
    const status = statusOf(b?.status)
    if (!b || id === null || !status) continue
    const key = `${str(b.stage)}\u0000${str(b.name)}`
    if ((latest.get(key)?.n ?? -1) > id) continue
    const job = {
      id: String(id),
      name: str(b.name) ?? '',
      status,
      startedAt: toIso(b.started_at),
      finishedAt: isTerminal(status) ? toIso(b.finished_at) : null,
      url: webUrl ? `${webUrl}/-/jobs/${id}`.slice(0, 2000) : null,
    }
    latest.set(key, { n: id, job })
  }
  return [...latest.values()]
    .sort((a, b) => a.n - b.n)
    .map((e) => e.job)
    .slice(0, 500)
}

function pipelineUpdate(b: Obj): BuildUpdate | string {
  const oa = obj(b.object_attributes)
  if (!oa) throw new BadPayload('missing object_attributes')
  const id = idOf(oa.id)
  if (!id) throw new BadPayload('missing object_attributes.id')
  const project = obj(b.project)
  const path = str(project?.path_with_namespace)
  if (!path) throw new BadPayload('missing project.path_with_namespace')
  const status = statusOf(oa.status)
  if (!status) return `unknown pipeline status: ${str(oa.status)}`

  const u = emptyUpdate('gitlab', id, path)
  const webUrl = str(project?.web_url, 1900)
  const commit = obj(b.commit)
  const ref = str(oa.ref) ?? ''
  u.pipeline = str(oa.name) ?? 'pipeline'
  u.branch = ref
  u.tag = oa.tag === true && ref ? ref : null
  u.pullRequest = int(obj(b.merge_request)?.iid)
  u.number = int(oa.iid)
  u.status = status
  u.commit = {
    sha: str(oa.sha, 80) ?? str(commit?.id, 80),
    subject: firstLine(commit?.message) ?? firstLine(commit?.title),
    author: str(obj(commit?.author)?.name, 200),
  }
  u.actor = str(obj(b.user)?.username, 200) ?? str(obj(b.user)?.name, 200)
  // Older payloads have no url.
  u.url = str(oa.url, 2000) ?? (webUrl ? `${webUrl}/-/pipelines/${id}` : null)
  u.trigger = str(oa.source, 100)
  u.jobs = latestJobs(b.builds, webUrl)
  u.queuedAt = requiredTime(oa, 'created_at', 'object_attributes.created_at')
  if (status !== 'queued') {
    // No start time in the payload: the first job start, else creation plus time queued.
    const starts = u.jobs.map((j) => j.startedAt).filter((t): t is string => t !== null)
    const fromQueue = shiftIso(u.queuedAt, secondsToMs(oa.queued_duration))
    u.startedAt = starts.sort()[0] ?? fromQueue
  }
  if (isTerminal(status)) {
    u.finishedAt = toIso(oa.finished_at)
    u.durationMs = secondsToMs(oa.duration) ?? spanMs(u.startedAt, u.finishedAt)
  }
  u.eventTime = toIso(oa.finished_at) ?? u.queuedAt
  return u
}

/** The project path a Job Hook lacks in older payloads; `project_name` is "Group / Project". */
function jobProject(b: Obj): string {
  const fromUrl = (v: unknown) => str(urlPath(v)?.replace(/^\/+|\/+$/g, ''))
  const path =
    str(obj(b.project)?.path_with_namespace) ??
    fromUrl(obj(b.repository)?.homepage) ??
    str(b.project_name)?.replace(/\s*\/\s*/g, '/')
  if (!path) throw new BadPayload('missing project')
  return path
}

function jobUpdate(b: Obj): BuildUpdate | string {
  const commit = obj(b.commit)
  // In Job Hooks commit.id is the pipeline id, not a sha.
  const pipelineId = idOf(b.pipeline_id) ?? idOf(commit?.id)
  if (!pipelineId) throw new BadPayload('missing pipeline_id')
  const jobId = idOf(b.build_id)
  if (!jobId) throw new BadPayload('missing build_id')
  const status = statusOf(b.build_status)
  if (!status) return `unknown job status: ${str(b.build_status)}`

  const u = emptyUpdate('gitlab', pipelineId, jobProject(b))
  const webUrl = str(obj(b.project)?.web_url, 1900) ?? str(obj(b.repository)?.homepage, 1900)
  const ref = str(b.ref) ?? ''
  u.pipeline = str(commit?.name) ?? ''
  u.branch = ref
  u.tag = b.tag === true && ref ? ref : null
  u.commit = {
    sha: str(b.sha, 80) ?? str(commit?.sha, 80),
    subject: firstLine(commit?.message),
    author: str(commit?.author_name, 200),
  }
  u.actor = str(obj(b.user)?.username, 200)
  // Job retries (retries_count) stay in the same pipeline, so the build attempt stays 1.
  u.status = status === 'queued' ? 'queued' : 'running'
  u.fromJob = true
  const startedAt = timeOf(b, 'build_started_at')
  const finishedAt = timeOf(b, 'build_finished_at')
  u.eventTime = finishedAt ?? startedAt ?? timeOf(b, 'build_created_at')
  u.jobs = [
    {
      id: jobId,
      name: str(b.build_name) ?? '',
      status,
      startedAt,
      finishedAt: isTerminal(status) ? finishedAt : null,
      url: webUrl ? `${webUrl}/-/jobs/${jobId}`.slice(0, 2000) : null,
    },
  ]
  return u
}

function normalize(d: Delivery, body: unknown): NormalizeResult {
  const b = obj(body)
  if (!b) throw new BadPayload('body is not a JSON object')
  const kind = str(b.object_kind, 100)
  const event = str(d.headers.get(EVENT_HEADER), 100) ?? kind ?? 'unknown'
  if (kind !== 'pipeline' && kind !== 'build') {
    return { kind: 'ignored', event, reason: `${event} events are not pipeline or job events` }
  }
  const update = kind === 'pipeline' ? pipelineUpdate(b) : jobUpdate(b)
  if (typeof update === 'string') return { kind: 'ignored', event, reason: update }
  const job = update.jobs[0]
  const natural = update.fromJob
    ? `gitlab:job:${job?.id}:${job?.status}:${job?.finishedAt ?? ''}`
    : `gitlab:pipeline:${update.externalId}:${update.status}:${update.finishedAt ?? ''}`
  const header = (name: string) => str(d.headers.get(name), 200)
  // The event UUID is shared by recursive hooks, so it only dedups together with the state.
  const eventUuid = header('x-gitlab-event-uuid')
  const deliveryId =
    header('idempotency-key') ?? header('webhook-id') ?? (eventUuid ? `${eventUuid}:${natural}` : natural)
  return { kind: 'build', event, deliveryId, update }
}

export const gitlab = defineProvider({
  name: 'gitlab',
  title: 'GitLab CI/CD',
  secrets: {
    [TOKEN_VAR]: secretVar('comma-separated tokens', '(unset)'),
    [SIGNING_VAR]: secretVar('comma-separated whsec_… signing tokens', '(unset)'),
  },
  eventHeaders: [EVENT_HEADER],
  verify,
  normalize,
})
