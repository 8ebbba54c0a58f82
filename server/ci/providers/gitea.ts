/**
 * @module Gitea and Forgejo webhooks. Gitea (1.24+) sends GitHub-shaped `workflow_run` and
 * `workflow_job` events, normalized by the GitHub code; Forgejo sends `action_run_success`,
 * `action_run_failure` and `action_run_recover` with a `run` object of its own.
 */
import { emptyUpdate, isTerminal } from '../model.ts'
import type { BuildStatus } from '../../../contract/builds.ts'
import { BadPayload, type Delivery, type NormalizeResult, defineProvider, secretVar } from '../provider.ts'
import { spanMs, toIso } from '../time.ts'
import { fail, hmacHex, OK, secretList } from '../verify.ts'
import { secretIn } from '../../http/auth.ts'
import { first, firstLine, idOf, int, lookup, obj, str, type Obj } from '../payload.ts'
import { naturalKey, workflowJobUpdate, workflowRunUpdate } from './github.ts'

const SECRET_VAR = 'GITEA_WEBHOOK_SECRET'
/** The headers naming the event, in the order they are read. */
const EVENT_HEADERS = ['x-gitea-event', 'x-forgejo-event', 'x-github-event']

/** Forgejo's run status names (`actions_model.Status.String()`). */
const RUN_STATUS: Record<string, BuildStatus> = {
  waiting: 'queued',
  blocked: 'queued',
  running: 'running',
  success: 'success',
  failure: 'failure',
  cancelled: 'canceled',
  skipped: 'skipped',
}

const header = (d: Delivery, ...names: string[]): string | null => first(200, ...names.map((n) => d.headers.get(n)))

function verify(d: Delivery, secrets: Record<string, readonly string[]>) {
  const keys = secretList(secrets, SECRET_VAR)
  // Gitea's own headers only: its GitHub-compatible X-Hub-Signature-256 is for the github hook.
  const given = header(d, 'x-forgejo-signature', 'x-gitea-signature')
  if (!given) return fail('missing X-Gitea-Signature or X-Forgejo-Signature header')
  return secretIn(given.toLowerCase(), keys, (k) => hmacHex(k, d.raw))
    ? OK
    : fail('X-Gitea-Signature does not match the body')
}

/** Forgejo `action_run_*`: one event when a run is done, with the run's final state. */
function forgejoRun(event: string, deliveryId: string | null, b: Obj): NormalizeResult {
  const run = obj(b.run)
  if (!run) throw new BadPayload('missing run')
  const id = idOf(run.id)
  if (!id) throw new BadPayload('missing run.id')
  const project = str(obj(b.repository)?.full_name) ?? str(obj(run.repository)?.full_name)
  if (!project) throw new BadPayload('missing repository.full_name')
  const status = lookup(RUN_STATUS, str(run.status))
  if (!status) return { kind: 'ignored', event, reason: `unknown run status: ${str(run.status)}` }

  const u = emptyUpdate('gitea', id, project)
  const workflow = str(run.workflow_id)
  u.pipeline = workflow ? workflow.slice(workflow.lastIndexOf('/') + 1) : ''
  // prettyref is the branch or tag name, or `#<n>` for a pull request.
  const ref = str(run.prettyref) ?? ''
  const pr = /^#(\d+)$/.exec(ref)
  u.branch = pr ? '' : ref
  u.pullRequest = pr ? Number(pr[1]) : null
  u.number = int(run.index_in_repo)
  u.status = status
  u.commit.sha = str(run.commit_sha, 80)
  u.commit.subject = firstLine(run.title)
  u.actor = str(obj(run.trigger_user)?.login, 200) ?? str(obj(b.sender)?.login, 200)
  u.url = str(run.html_url, 2000)
  u.trigger = str(run.trigger_event, 100) ?? str(run.event, 100)
  // Go's zero time stands for "not yet"; toIso turns it into null.
  u.queuedAt = toIso(run.created)
  u.startedAt = status === 'queued' ? null : toIso(run.started)
  if (isTerminal(status)) {
    u.finishedAt = toIso(run.stopped)
    // `duration` is a Go time.Duration in nanoseconds; the two times are plainer.
    u.durationMs = spanMs(u.startedAt, u.finishedAt)
  }
  u.eventTime = toIso(run.updated) ?? u.finishedAt
  return { kind: 'build', event, deliveryId: deliveryId ?? naturalKey(event, u), update: u }
}

function normalize(d: Delivery, body: unknown): NormalizeResult {
  const event = header(d, ...EVENT_HEADERS) ?? 'unknown'
  const deliveryId = header(d, 'x-gitea-delivery', 'x-forgejo-delivery')
  const isRun = event === 'workflow_run' || event === 'workflow_job'
  if (!isRun && !event.startsWith('action_run')) {
    return { kind: 'ignored', event, reason: `${event} events are not about builds` }
  }
  const b = obj(body)
  if (!b) throw new BadPayload('body is not a JSON object')
  if (!isRun) return forgejoRun(event, deliveryId, b)
  const update = event === 'workflow_run' ? workflowRunUpdate('gitea', b) : workflowJobUpdate('gitea', b)
  if (typeof update === 'string') return { kind: 'ignored', event, reason: update }
  return { kind: 'build', event, deliveryId: deliveryId ?? naturalKey(event, update), update }
}

export const gitea = defineProvider({
  name: 'gitea',
  title: 'Gitea / Forgejo Actions',
  secrets: { [SECRET_VAR]: secretVar('comma-separated secrets') },
  eventHeaders: EVENT_HEADERS,
  verify,
  normalize,
})
