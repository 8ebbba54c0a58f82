/**
 * @module Azure DevOps service hooks (Web Hooks consumer): `build.complete` (resource = REST Build)
 * and `ms.vss-pipelines.run-state-changed-event` (resource.run). Azure signs nothing; the hook
 * sends the token as HTTP Basic or as a custom header set in the subscription's `httpHeaders`.
 */
import { emptyUpdate, isTerminal, type BuildUpdate } from '../model.ts'
import type { BuildStatus } from '../../../contract/builds.ts'
import { BadPayload, type Delivery, type NormalizeResult, defineProvider, secretVar } from '../provider.ts'
import { requiredTime, spanMs, toIso } from '../time.ts'
import { fail, OK, secretList } from '../verify.ts'
import { credentialFrom, secretIn } from '../../http/auth.ts'
import { arr, branchOf, firstLine, lookup, obj, str, tagOf, type Obj } from '../payload.ts'

const SECRET_VAR = 'AZURE_DEVOPS_WEBHOOK_TOKEN'
const TOKEN_HEADER = 'x-radiator-token'
const BUILD_COMPLETE = 'build.complete'
const RUN_STATE = 'ms.vss-pipelines.run-state-changed-event'

/** Build `status`/`result` and run `state`/`result` values share one vocabulary (camelCase). */
const STATUS: Record<string, BuildStatus> = {
  notStarted: 'queued',
  postponed: 'queued',
  inProgress: 'running',
  canceling: 'running',
  cancelling: 'running',
  succeeded: 'success',
  partiallySucceeded: 'failure',
  failed: 'failure',
  canceled: 'canceled',
  stopped: 'canceled',
}

/** As `idOf`, except that a negative number still reads as an id. */
const id = (v: unknown): string | null => (typeof v === 'number' && Number.isSafeInteger(v) ? String(v) : str(v, 200))
const digits = (v: unknown): number | null => (typeof v === 'string' && /^\d{1,15}$/.test(v) ? Number(v) : null)
const href = (links: unknown, name: string) => str(obj(obj(links)?.[name])?.href, 2000)

/** `result` once there is one (`none`/`unknown` mean not yet), else the state. */
function statusOf(result: unknown, state: unknown): BuildStatus | undefined {
  const pick = result === 'none' || result === 'unknown' || !str(result) ? state : result
  return lookup(STATUS, pick)
}

function verify(d: Delivery, secrets: Record<string, readonly string[]>) {
  const keys = secretList(secrets, SECRET_VAR)
  const given = [credentialFrom(d.headers.get('authorization')), d.headers.get(TOKEN_HEADER)].filter(
    (c): c is string => c !== null && c !== ''
  )
  if (given.length === 0) {
    return fail('missing credentials: send HTTP Basic (password = token) or X-Radiator-Token')
  }
  let ok = false
  for (const g of given) ok = secretIn(g, keys) || ok
  return ok ? OK : fail('Azure DevOps token does not match')
}

/** Branch, tag and PR number from a git ref such as `refs/heads/main` or `refs/pull/7/merge`. */
function fromRef(ref: string | null) {
  const none = { branch: '', tag: null as string | null, pr: null as number | null }
  if (!ref) return none
  const branch = branchOf(ref)
  if (branch !== null) return { ...none, branch }
  if (ref.startsWith('refs/tags/')) return { ...none, tag: tagOf(ref) }
  const pr = /^refs\/pull\/(\d{1,9})\//.exec(ref)
  // Anything else (a TFVC path, a bare name) is the best branch-like label there is.
  return pr ? { ...none, pr: Number(pr[1]) } : { ...none, branch: ref }
}

function projectName(b: Obj, r: Obj): string {
  const container = obj(obj(b.resourceContainers)?.project)
  const name = str(obj(r.project)?.name) ?? str(container?.name) ?? str(container?.id)
  if (!name) throw new BadPayload('missing project: no resource.project or resourceContainers')
  return name
}

function fromBuild(b: Obj, r: Obj): BuildUpdate | string {
  const externalId = id(r.id)
  if (!externalId) throw new BadPayload('missing resource.id')
  const status = statusOf(r.result, r.status)
  if (!status) return `unknown build result/status: ${str(r.result) ?? str(r.status)}`
  const u = emptyUpdate('azure-devops', externalId, projectName(b, r))
  // Legacy XAML builds pack ref and sha into `LG:<ref>:<sha>` instead of sourceBranch/Version.
  const legacy = /^LG:(.+):([0-9a-f]{40})$/i.exec(str(r.sourceGetVersion, 2000) ?? '')
  const ref = fromRef(str(r.sourceBranch, 1000) ?? legacy?.[1] ?? null)
  const prSource = str(obj(r.triggerInfo)?.['pr.sourceBranch'], 1000)
  const requests = arr(r.requests)
  u.pipeline = str(obj(r.definition)?.name) ?? ''
  u.branch = (ref.pr !== null && prSource ? fromRef(prSource).branch : ref.branch).slice(0, 300)
  u.tag = ref.tag
  u.pullRequest = ref.pr
  u.number = digits(r.buildNumber)
  u.status = status
  u.commit.sha = str(r.sourceVersion, 80) ?? legacy?.[2] ?? null
  u.actor =
    str(obj(r.requestedFor)?.displayName, 200) ??
    str(obj(obj(requests[0])?.requestedFor)?.displayName, 200) ??
    str(obj(r.lastChangedBy)?.displayName, 200)
  u.url = href(r._links, 'web') ?? legacyLink(b)
  u.trigger = str(r.reason, 100)
  u.queuedAt = toIso(r.queueTime)
  u.startedAt = toIso(r.startTime)
  if (isTerminal(status)) u.finishedAt = toIso(r.finishTime)
  u.durationMs = spanMs(u.startedAt, u.finishedAt)
  u.eventTime = requiredTime(b, 'createdDate', 'createdDate') ?? u.finishedAt
  return u
}

/** Legacy builds have no `_links`; the only web link is in the message HTML. */
function legacyLink(b: Obj): string | null {
  const html = str(obj(b.message)?.html, 10_000) ?? ''
  const m = /href="(https?:\/\/[^"]+)"/.exec(html)
  return m ? str(m[1]!.replaceAll('&amp;', '&'), 2000) : null
}

function fromRun(b: Obj, r: Obj): BuildUpdate | string {
  const run = obj(r.run)
  const externalId = id(run?.id)
  if (!run || !externalId) throw new BadPayload('missing resource.run.id')
  const status = statusOf(run.result, run.state)
  if (!status) return `unknown run result/state: ${str(run.result) ?? str(run.state)}`
  const u = emptyUpdate('azure-devops', externalId, projectName(b, r))
  // The run payload has no branch and no sha (only GET builds/{id} would); message and author only.
  const repos = arr(r.repositories)
  const change = obj(obj(repos[0])?.change)
  u.pipeline = str(obj(r.pipeline)?.name) ?? str(obj(run.pipeline)?.name) ?? ''
  u.number = digits(run.name)
  u.status = status
  u.commit.subject = firstLine(change?.message)
  u.commit.author = str(obj(change?.author)?.name, 200)
  u.url = href(run._links, 'web')
  // Runs carry no start time; creation is the closest there is.
  u.startedAt = toIso(run.createdDate)
  if (isTerminal(status)) u.finishedAt = toIso(run.finishedDate)
  u.durationMs = spanMs(u.startedAt, u.finishedAt)
  u.eventTime = requiredTime(b, 'createdDate', 'createdDate') ?? u.finishedAt
  return u
}

function normalize(_d: Delivery, body: unknown): NormalizeResult {
  const b = obj(body)
  if (!b) throw new BadPayload('body is not a JSON object')
  const event = str(b.eventType, 100) ?? 'unknown'
  if (event !== BUILD_COMPLETE && event !== RUN_STATE) {
    // Stage and job state events repeat what the run event says at a finer grain; not mapped.
    return { kind: 'ignored', event, reason: `not a mapped build event: ${event}` }
  }
  const deliveryId = str(b.id, 200)
  const resource = obj(b.resource)
  if (!deliveryId) throw new BadPayload('missing id')
  if (!resource) throw new BadPayload('missing resource')
  const u = event === BUILD_COMPLETE ? fromBuild(b, resource) : fromRun(b, resource)
  if (typeof u === 'string') return { kind: 'ignored', event, deliveryId, reason: u }
  return { kind: 'build', event, deliveryId, update: u }
}

export const azureDevops = defineProvider({
  name: 'azure-devops',
  title: 'Azure DevOps',
  secrets: { [SECRET_VAR]: secretVar('comma-separated tokens') },
  eventHeaders: [],
  verify,
  normalize,
})
