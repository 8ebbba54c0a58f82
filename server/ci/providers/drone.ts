/**
 * @module Drone system webhooks (`X-Drone-Event: build`; `user` and `repo` events are ignored).
 * Drone signs with HTTP Signatures (draft-cavage): an HMAC over the `Date` and `Digest` headers,
 * where `Digest` is the SHA-256 of the body. Times are unix seconds; stages become jobs.
 */
import { createHash } from 'node:crypto'
import { emptyUpdate, isTerminal } from '../model.ts'
import type { BuildStatus, Job } from '../../../contract/builds.ts'
import { BadPayload, type Delivery, type NormalizeResult, defineProvider, secretVar } from '../provider.ts'
import { httpDateMs, requiredTime, spanMs, toIso } from '../time.ts'
import { fail, hmacBase64, OK, secretList } from '../verify.ts'
import { safeEqual, secretIn } from '../../http/auth.ts'
import { arr, branchOf, firstLine, int, lookup, obj, str, tagOf } from '../payload.ts'

const SECRET_VAR = 'DRONE_WEBHOOK_SECRET'
/** The header naming the event. */
const EVENT_HEADER = 'x-drone-event'
const WINDOW_MS = 5 * 60_000
const HEADER_NAME = /^[a-z0-9!#$%&'*+.^_`|~-]+$/

const STATUS: Record<string, BuildStatus> = {
  pending: 'queued',
  blocked: 'queued',
  waiting_on_dependencies: 'queued',
  running: 'running',
  started: 'running',
  success: 'success',
  failure: 'failure',
  error: 'failure',
  killed: 'canceled',
  declined: 'canceled',
  skipped: 'skipped',
}

const statusOf = (v: unknown): BuildStatus | undefined => lookup(STATUS, v)

/** `keyId="…",algorithm="…",signature="…",headers="…"` into a map. */
function signatureParams(header: string): Map<string, string> {
  return new Map([...header.matchAll(/(\w+)="([^"]*)"/g)].map((m) => [m[1]!, m[2]!]))
}

/** The SHA-256 value of a `Digest` header, which may list several algorithms. */
function sha256Of(digest: string): string | null {
  for (const part of digest.split(',')) {
    const i = part.indexOf('=')
    const algorithm = part.slice(0, Math.max(i, 0)).trim().toLowerCase()
    if (i > 0 && algorithm === 'sha-256') return part.slice(i + 1).trim()
  }
  return null
}

function verify(d: Delivery, secrets: Record<string, readonly string[]>) {
  const keys = secretList(secrets, SECRET_VAR)
  const header = d.headers.get('signature')
  if (!header) return fail('missing Signature header')
  const params = signatureParams(header)
  const algorithm = params.get('algorithm')
  if (algorithm && algorithm.toLowerCase() !== 'hmac-sha256') {
    return fail(`unsupported Signature algorithm: ${algorithm.slice(0, 50)}`)
  }
  const given = params.get('signature')
  if (!given) return fail('Signature header has no signature')
  const signed = (params.get('headers') ?? 'date').toLowerCase().split(/\s+/).filter(Boolean)
  // Without both, a captured signature could be replayed later or over another body.
  if (!signed.includes('date') || !signed.includes('digest')) {
    return fail('Signature must cover the date and digest headers')
  }

  const digest = d.headers.get('digest')
  const bodyHash = createHash('sha256').update(d.raw).digest('base64')
  const sent = digest === null ? null : sha256Of(digest)
  if (sent === null) return fail('missing SHA-256 Digest header')
  if (!safeEqual(sent, bodyHash)) return fail('Digest does not match the body')
  const date = httpDateMs(d.headers.get('date'))
  if (!Number.isFinite(date)) return fail('missing Date header, or not an HTTP date in GMT')
  if (Math.abs(d.receivedAt - date) > WINDOW_MS) return fail('Date is not within 5 minutes')

  const lines: string[] = []
  for (const name of signed) {
    // Webhooks are always POSTed; no other pseudo-header exists in this scheme.
    if (name === '(request-target)') lines.push(`${name}: post ${d.url.pathname}${d.url.search}`)
    else if (!HEADER_NAME.test(name)) return fail(`cannot sign header ${name.slice(0, 50)}`)
    else if (d.headers.get(name) === null) return fail(`signed header ${name} is missing`)
    else lines.push(`${name}: ${d.headers.get(name)}`)
  }
  return secretIn(given, keys, (k) => hmacBase64(k, lines.join('\n'))) ? OK : fail('Signature does not match')
}

function stageJobs(stages: unknown): (Job & { id: string })[] {
  return arr(stages)
    .slice(0, 500)
    .flatMap((s) => {
      const stage = obj(s)
      const status = statusOf(stage?.status)
      const id = int(stage?.id) ?? int(stage?.number)
      if (!stage || !status || id === null) return []
      const startedAt = toIso(stage.started)
      const finishedAt = isTerminal(status) ? toIso(stage.stopped) : null
      const name = str(stage.name) ?? ''
      return [{ id: String(id), name, status, startedAt, finishedAt, url: null }]
    })
}

function normalize(d: Delivery, body: unknown): NormalizeResult {
  const b = obj(body)
  if (!b) throw new BadPayload('body is not a JSON object')
  const event = str(d.headers.get(EVENT_HEADER), 100) ?? (obj(b.build) ? 'build' : 'unknown')
  if (event !== 'build') return { kind: 'ignored', event, reason: `not a build event: ${event}` }
  const repo = obj(b.repo)
  const build = obj(b.build)
  if (!repo) throw new BadPayload('missing repo')
  if (!build) throw new BadPayload('missing build')
  const names = [str(repo.namespace), str(repo.name)]
  const slug = str(repo.slug) ?? (names.every(Boolean) ? names.join('/') : null)
  if (!slug) throw new BadPayload('missing repo.slug')
  const number = int(build.number)
  const externalId = int(build.id)?.toString() ?? (number !== null ? `${slug}#${number}` : null)
  if (!externalId) throw new BadPayload('missing build.id and build.number')
  const action = str(b.action, 50) ?? ''
  const status = statusOf(build.status)
  if (!status) {
    return { kind: 'ignored', event, reason: `unknown build status: ${str(build.status)}` }
  }

  const u = emptyUpdate('drone', externalId.slice(0, 200), slug)
  const ref = str(build.ref, 1000) ?? ''
  const pr = /^refs\/(?:pull|merge-requests)\/(\d{1,9})\//.exec(ref)
  const isPr = pr !== null || build.event === 'pull_request'
  const heads = str(branchOf(ref))
  u.pipeline = 'drone'
  u.tag = tagOf(ref)
  // A pull request builds its source branch (as GitHub's head_branch); the docs example even
  // pairs a pull_request event with refs/heads/master, so `source` wins over the ref there.
  const branch = isPr ? str(build.source) : null
  u.branch = u.tag ? '' : (branch ?? heads ?? str(build.target) ?? str(build.source) ?? '')
  u.pullRequest = pr ? Number(pr[1]) : null
  u.number = number
  u.status = status
  u.commit = {
    sha: str(build.after, 80),
    subject: firstLine(build.message),
    author: str(build.author_name, 200) ?? str(build.author_login, 200),
  }
  u.actor = str(build.sender, 200) ?? str(build.author_login, 200)
  // Drone sends no link to its own build page: `link` is the forge's commit or compare URL.
  u.url = null
  u.trigger = str(build.event, 100)
  u.queuedAt = requiredTime(build, 'created', 'build.created')
  // The docs examples fill started/finished even on a pending build: trust them only once reached.
  if (status !== 'queued') u.startedAt = toIso(build.started)
  if (isTerminal(status)) u.finishedAt = toIso(build.finished)
  u.durationMs = spanMs(u.startedAt, u.finishedAt)
  u.jobs = stageJobs(build.stages)
  const updated = requiredTime(build, 'updated', 'build.updated')
  u.eventTime = u.finishedAt ?? updated ?? u.startedAt ?? u.queuedAt
  const version = int(build.version)
  // No delivery id: the build's own version counter separates successive `updated` deliveries.
  const deliveryId = [`drone:${externalId}`, action, build.status, version].filter((p) => p !== null).join(':')
  return { kind: 'build', event, deliveryId: deliveryId.slice(0, 300), update: u }
}

export const drone = defineProvider({
  name: 'drone',
  title: 'Drone',
  secrets: { [SECRET_VAR]: secretVar('comma-separated secrets') },
  eventHeaders: [EVENT_HEADER],
  verify,
  normalize,
})
