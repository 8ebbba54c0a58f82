/**
 * @module GitHub Actions webhooks. `workflow_run` and `workflow_job` are builds, `ping` is a ping,
 * everything else (check_*, deployment_status, push…) is ignored. The Actions normalizers are
 * exported because Gitea sends the same shapes.
 */
import { emptyUpdate, isTerminal, type BuildUpdate } from '../model.ts'
import type { BuildStatus, ProviderName } from '../../../contract/builds.ts'
import { BadPayload, type Delivery, type NormalizeResult, defineProvider, secretVar } from '../provider.ts'
import { requiredTime, spanMs, toIso } from '../time.ts'
import { fail, hmacHex, OK, secretList } from '../verify.ts'
import { secretIn } from '../../http/auth.ts'
import { arr, firstLine, idOf, int, lookup, obj, str, type Obj } from '../payload.ts'

const SECRET_VAR = 'GITHUB_WEBHOOK_SECRET'
/** The header naming the event. */
const EVENT_HEADER = 'x-github-event'

const login = (v: unknown): string | null => str(obj(v)?.login, 200)
const attemptOf = (v: unknown): number => {
  const n = int(v)
  // Gitea sends 0 when it has no attempt record.
  return n !== null && n >= 1 && n <= 10_000 ? n : 1
}

const QUEUED = ['requested', 'queued', 'pending', 'waiting']
const CONCLUSIONS: Record<string, BuildStatus> = {
  success: 'success',
  neutral: 'success',
  failure: 'failure',
  timed_out: 'failure',
  startup_failure: 'failure',
  cancelled: 'canceled',
  stale: 'canceled',
  skipped: 'skipped',
  action_required: 'queued',
}

/**
 * Normalized status of a run or job. Finished only when `status` is `completed` and a conclusion
 * is set: `action` alone lies (GitHub sends `action: completed` with `status: queued`).
 */
export function actionsStatus(status: unknown, conclusion: unknown): BuildStatus | null {
  const s = str(status)
  if (s !== null && QUEUED.includes(s)) return 'queued'
  if (s === 'in_progress') return 'running'
  if (s !== 'completed') return null
  // Gitea sends "" rather than null while a run has no conclusion.
  const c = str(conclusion)
  return c === null ? 'running' : (lookup(CONCLUSIONS, c) ?? null)
}

function projectOf(b: Obj, inner: Obj): string {
  const name = str(obj(b.repository)?.full_name) ?? str(obj(inner.repository)?.full_name)
  if (!name) throw new BadPayload('missing repository.full_name')
  return name
}

/** `.github/workflows/ci.yml` → `ci.yml`; Gitea's `ci.yml@refs/heads/main` → `ci.yml`. */
function fileName(path: unknown): string | null {
  const p = str(path, 2000)?.split('@')[0]
  return p ? str(p.slice(p.lastIndexOf('/') + 1)) : null
}

/** A `workflow_run` body as an update, or the reason it can't be one. */
export function workflowRunUpdate(provider: ProviderName, b: Obj): BuildUpdate | string {
  const wr = obj(b.workflow_run)
  if (!wr) throw new BadPayload('missing workflow_run')
  const id = idOf(wr.id)
  if (!id) throw new BadPayload('missing workflow_run.id')
  const status = actionsStatus(wr.status, wr.conclusion)
  if (!status) return `unknown workflow_run status: ${str(wr.status)}/${str(wr.conclusion)}`

  const u = emptyUpdate(provider, id, projectOf(b, wr))
  u.attempt = attemptOf(wr.run_attempt)
  u.pipeline = str(obj(b.workflow)?.name) ?? str(wr.name) ?? fileName(wr.path) ?? ''
  u.branch = str(wr.head_branch) ?? ''
  u.pullRequest = int(obj(arr(wr.pull_requests)[0])?.number)
  u.number = int(wr.run_number)
  u.status = status
  const head = obj(wr.head_commit)
  u.commit = {
    sha: str(wr.head_sha, 80),
    subject: firstLine(head?.message),
    author: str(obj(head?.author)?.name, 200),
  }
  // triggering_actor (this attempt) is missing from 2021-era payloads; actor is the original.
  u.actor = login(wr.triggering_actor) ?? login(wr.actor) ?? login(b.sender)
  u.url = str(wr.html_url, 2000)
  u.trigger = str(wr.event, 100)
  // run_started_at is the start of this attempt; created_at stays at the first attempt's.
  const attemptStart = toIso(wr.run_started_at) ?? toIso(wr.started_at)
  const created = requiredTime(wr, 'created_at', 'workflow_run.created_at')
  u.queuedAt = u.attempt > 1 ? attemptStart : created
  // GitHub fills run_started_at while still queued, so it only counts once the run moves.
  u.startedAt = status === 'queued' ? null : attemptStart
  if (isTerminal(status)) {
    // No finish field on GitHub: the last update of a completed run is its end.
    u.finishedAt = toIso(wr.completed_at) ?? toIso(wr.updated_at)
    u.durationMs = spanMs(attemptStart, u.finishedAt)
  }
  u.eventTime = requiredTime(wr, 'updated_at', 'workflow_run.updated_at')
  return u
}

/** A `workflow_job` body as a job update of its run, or the reason it can't be one. */
export function workflowJobUpdate(provider: ProviderName, b: Obj): BuildUpdate | string {
  const wj = obj(b.workflow_job)
  if (!wj) throw new BadPayload('missing workflow_job')
  const runId = idOf(wj.run_id)
  if (!runId) throw new BadPayload('missing workflow_job.run_id')
  const jobId = idOf(wj.id)
  if (!jobId) throw new BadPayload('missing workflow_job.id')
  const status = actionsStatus(wj.status, wj.conclusion)
  if (!status) return `unknown workflow_job status: ${str(wj.status)}/${str(wj.conclusion)}`

  const u = emptyUpdate(provider, runId, projectOf(b, wj))
  u.attempt = attemptOf(wj.run_attempt)
  u.pipeline = str(wj.workflow_name) ?? ''
  u.branch = str(wj.head_branch) ?? ''
  u.commit.sha = str(wj.head_sha, 80)
  u.actor = login(b.sender)
  // A job moves its run forward but never finishes it: only workflow_run knows the outcome.
  u.status = status === 'queued' ? 'queued' : 'running'
  u.fromJob = true
  // Parsed before choosing: Gitea sends Go's zero time rather than null.
  u.eventTime = toIso(wj.completed_at) ?? toIso(wj.started_at) ?? toIso(wj.created_at)
  u.jobs = [
    {
      id: jobId,
      name: str(wj.name) ?? '',
      status,
      startedAt: status === 'queued' ? null : toIso(wj.started_at),
      finishedAt: isTerminal(status) ? toIso(wj.completed_at) : null,
      url: str(wj.html_url, 2000),
    },
  ]
  return u
}

/** Dedup key for a delivery without a delivery id: the same state of the same build or job. */
export function naturalKey(event: string, u: BuildUpdate): string {
  const job = u.jobs[0]
  const state = job ? `${job.id}:${job.status}` : u.status
  return `${u.provider}:${event}:${u.externalId}:${u.attempt}:${state}:${u.eventTime ?? ''}`
}

function verify(d: Delivery, secrets: Record<string, readonly string[]>) {
  const keys = secretList(secrets, SECRET_VAR)
  // Only the SHA-256 header: Gitea's own X-Gitea-Signature is never accepted here.
  const header = d.headers.get('x-hub-signature-256')
  if (!header) return fail('missing X-Hub-Signature-256 header')
  if (!header.startsWith('sha256=')) return fail('X-Hub-Signature-256 is not sha256=<hex>')
  const given = header.slice('sha256='.length).toLowerCase()
  return secretIn(given, keys, (k) => hmacHex(k, d.raw)) ? OK : fail('X-Hub-Signature-256 does not match the body')
}

function normalize(d: Delivery, body: unknown): NormalizeResult {
  const event = str(d.headers.get(EVENT_HEADER), 100) ?? 'unknown'
  // Gitea and Forgejo also send X-GitHub-Event and X-Hub-Signature-256.
  if (d.headers.has('x-gitea-event') || d.headers.has('x-forgejo-event')) {
    const reason = 'a Gitea/Forgejo delivery: point this webhook at the gitea hook instead'
    return { kind: 'ignored', event, reason }
  }
  if (event === 'ping') return { kind: 'ping', event }
  if (event !== 'workflow_run' && event !== 'workflow_job') {
    const reason =
      event === 'check_run' || event === 'check_suite'
        ? `${event} events are not builds; subscribe to workflow_run and workflow_job`
        : event === 'deployment_status'
          ? 'deployment_status events are deployments, not builds'
          : `${event} events are not about builds`
    return { kind: 'ignored', event, reason }
  }
  const b = obj(body)
  if (!b) throw new BadPayload('body is not a JSON object')
  const update = event === 'workflow_run' ? workflowRunUpdate('github', b) : workflowJobUpdate('github', b)
  if (typeof update === 'string') return { kind: 'ignored', event, reason: update }
  const deliveryId = str(d.headers.get('x-github-delivery'), 200) ?? naturalKey(event, update)
  return { kind: 'build', event, deliveryId, update }
}

export const github = defineProvider({
  name: 'github',
  title: 'GitHub Actions',
  secrets: { [SECRET_VAR]: secretVar('comma-separated secrets') },
  eventHeaders: [EVENT_HEADER],
  verify,
  normalize,
})
