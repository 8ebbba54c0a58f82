/**
 * @module CircleCI outbound webhooks (`workflow-completed`, `job-completed`, `ping`). Only terminal
 * events exist. Two payload shapes: OAuth / Bitbucket Cloud pipelines carry `pipeline.vcs`; GitLab,
 * GitHub App and Bitbucket DC pipelines carry `pipeline.trigger_parameters` and an opaque slug.
 */
import { emptyUpdate, type BuildUpdate } from '../model.ts'
import type { BuildStatus } from '../../../contract/builds.ts'
import { BadPayload, type Delivery, type NormalizeResult, defineProvider, secretVar } from '../provider.ts'
import { requiredTime, spanMs, toIso } from '../time.ts'
import { fail, hmacHex, OK, secretList } from '../verify.ts'
import { secretIn } from '../../http/auth.ts'
import { first, firstLine, int, lookup, obj, str, urlPath, type Obj } from '../payload.ts'

const SECRET_VAR = 'CIRCLECI_WEBHOOK_SECRET'
/** The header naming the event. */
const EVENT_HEADER = 'circleci-event-type'

const STATUS: Record<string, BuildStatus> = {
  success: 'success',
  failed: 'failure',
  error: 'failure',
  unauthorized: 'failure',
  canceled: 'canceled',
}

const statusOf = (v: unknown): BuildStatus | undefined => lookup(STATUS, v)

function verify(d: Delivery, secrets: Record<string, readonly string[]>) {
  const keys = secretList(secrets, SECRET_VAR)
  const header = d.headers.get('circleci-signature')
  if (!header) return fail('missing circleci-signature header')
  // Only v1, the newest version known, is checked: falling back to another would allow downgrades.
  const v1 = header
    .split(',')
    .map((p) => p.trim())
    .find((p) => p.startsWith('v1='))
  if (!v1) return fail('circleci-signature has no v1 signature')
  const given = v1.slice(3).toLowerCase()
  return secretIn(given, keys, (k) => hmacHex(k, d.raw)) ? OK : fail('circleci-signature does not match the body')
}

/** `org/repo` from an https or scp-style git URL (`git@host:org/repo.git`). */
function repoPath(v: unknown): string | null {
  const s = str(v, 2000)
  if (!s) return null
  const path = /^[\w.-]+@[\w.-]+:/.test(s) ? s.slice(s.indexOf(':') + 1) : urlPath(s)
  return str(path?.replace(/^\/+|\/+$/g, '').replace(/\.git$/, ''))
}

/** Commit and repository facts, from whichever of the two payload shapes this pipeline has. */
function source(pipeline: Obj) {
  const vcs = obj(pipeline.vcs)
  if (vcs) {
    const commit = obj(vcs.commit)
    const author = str(obj(commit?.author)?.name, 200)
    return {
      repo: repoPath(vcs.target_repository_url) ?? repoPath(vcs.origin_repository_url),
      branch: str(vcs.branch) ?? '',
      tag: str(vcs.tag),
      sha: str(vcs.revision, 80),
      subject: firstLine(commit?.subject),
      author,
      actor: author,
    }
  }
  const tp = obj(pipeline.trigger_parameters)
  const git = obj(tp?.git)
  const gl = obj(tp?.gitlab)
  const gh = obj(tp?.github_app)
  const named = (owner: unknown, name: unknown) => (str(owner) && str(name) ? `${str(owner)}/${str(name)}` : null)
  return {
    repo:
      repoPath(gl?.web_url) ??
      repoPath(gh?.repo_url) ??
      repoPath(git?.repo_url) ??
      named(gh?.owner, gh?.repo_name) ??
      named(git?.repo_owner, git?.repo_name),
    branch: first(300, git?.branch, gl?.branch, gh?.branch) ?? '',
    tag: str(git?.tag),
    sha: first(80, git?.checkout_sha, gl?.commit_sha, gh?.commit_sha),
    subject: firstLine(first(5000, gl?.commit_message, git?.commit_message, gh?.commit_title)),
    author: first(200, gl?.commit_author_name, git?.commit_author_name, gh?.commit_author_name),
    actor: first(200, gl?.user_username, gh?.user_username),
  }
}

/** `github/org/repo` → `org/repo`; the opaque `circleci/<org>/<project>` slug tells nothing. */
function projectName(b: Obj, repo: string | null): string {
  const slug = str(obj(b.project)?.slug) ?? ''
  const [vcs, ...rest] = slug.split('/')
  if (vcs !== 'circleci' && rest.length >= 2) return rest.join('/')
  if (repo) return repo
  const org = str(obj(b.organization)?.name)
  const name = str(obj(b.project)?.name)
  if (org && name) return `${org}/${name}`
  // Still stable and unique per project, if unreadable.
  const fallback = rest.length > 0 ? rest.join('/') : slug
  if (!fallback) throw new BadPayload('missing project.slug')
  return fallback
}

function normalize(d: Delivery, body: unknown): NormalizeResult {
  const b = obj(body)
  if (!b) throw new BadPayload('body is not a JSON object')
  const event = str(b.type, 100) ?? d.headers.get(EVENT_HEADER) ?? 'unknown'
  if (event === 'ping') return { kind: 'ping', event }
  if (event !== 'workflow-completed' && event !== 'job-completed') {
    return { kind: 'ignored', event, reason: `not a build event: ${event}` }
  }
  const deliveryId = str(b.id, 200)
  const pipeline = obj(b.pipeline)
  const workflow = obj(b.workflow)
  const job = obj(b.job)
  if (!deliveryId) throw new BadPayload('missing id')
  if (!pipeline) throw new BadPayload('missing pipeline')
  if (event === 'job-completed' && !job) throw new BadPayload('missing job')
  if (!workflow) {
    if (event === 'workflow-completed') throw new BadPayload('missing workflow')
    // The GitLab-shape job-completed has no workflow: keyed on anything else, the job would open
    // a build that no workflow-completed ever finishes, left showing as running for hours.
    const reason = 'job-completed without a workflow: cannot attach the job to its build'
    return { kind: 'ignored', event, deliveryId, reason }
  }

  // Re-runs get a new workflow id, which is right: each is its own build.
  const fallbackId = [str(pipeline.id), str(workflow.name)].filter(Boolean).join(':')
  const externalId = str(workflow.id, 200) ?? fallbackId.slice(0, 200)
  if (!externalId) throw new BadPayload('missing workflow.id and pipeline.id')

  const src = source(pipeline)
  const u: BuildUpdate = emptyUpdate('circleci', externalId, projectName(b, src.repo))
  u.pipeline = str(workflow.name) ?? ''
  u.branch = src.branch
  u.tag = src.tag
  u.number = int(pipeline.number)
  u.commit = { sha: src.sha, subject: src.subject, author: src.author }
  u.actor = src.actor
  u.url = str(workflow.url, 2000)
  u.trigger = str(obj(pipeline.trigger)?.type, 100)
  u.startedAt = toIso(workflow.created_at)
  u.eventTime = requiredTime(b, 'happened_at', 'happened_at')

  if (job) {
    const status = statusOf(job.status)
    if (!status) {
      const reason = `unknown job status: ${str(job.status)}`
      return { kind: 'ignored', event, deliveryId, reason }
    }
    const jobId = str(job.id, 200) ?? (int(job.number) !== null ? String(job.number) : null)
    if (!jobId) throw new BadPayload('missing job.id')
    // A job finishing never finishes its workflow; workflow-completed does that.
    u.status = 'running'
    u.fromJob = true
    u.carriesBuild = true
    u.jobs = [
      {
        id: jobId,
        name: str(job.name) ?? '',
        status,
        startedAt: toIso(job.started_at),
        finishedAt: toIso(job.stopped_at),
        url: null,
      },
    ]
    return { kind: 'build', event, deliveryId, update: u }
  }

  const status = statusOf(workflow.status)
  if (!status) {
    const reason = `unknown workflow status: ${str(workflow.status)}`
    return { kind: 'ignored', event, deliveryId, reason }
  }
  u.status = status
  u.finishedAt = toIso(workflow.stopped_at)
  u.durationMs = spanMs(u.startedAt, u.finishedAt)
  return { kind: 'build', event, deliveryId, update: u }
}

export const circleci = defineProvider({
  name: 'circleci',
  title: 'CircleCI',
  secrets: { [SECRET_VAR]: secretVar('comma-separated secrets') },
  eventHeaders: [EVENT_HEADER],
  verify,
  normalize,
})
