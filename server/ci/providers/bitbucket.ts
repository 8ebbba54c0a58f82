/**
 * @module Bitbucket Cloud commit-status webhooks (`repo:commit_status_created|updated`). A commit
 * status is written by any CI (Pipelines or an external tool), so this is a generic status feed:
 * no build id, no queued state, and the sha only inside `links.commit.href`.
 */
import { emptyUpdate, isTerminal } from '../model.ts'
import type { BuildStatus } from '../../../contract/builds.ts'
import { BadPayload, type Delivery, type NormalizeResult, defineProvider, secretVar } from '../provider.ts'
import { requiredTime, spanMs } from '../time.ts'
import { fail, hmacHex, OK, secretList } from '../verify.ts'
import { secretIn } from '../../http/auth.ts'
import { lookup, obj, str } from '../payload.ts'

const SECRET_VAR = 'BITBUCKET_WEBHOOK_SECRET'
/** The header naming the event. */
const EVENT_HEADER = 'x-event-key'
const EVENTS = ['repo:commit_status_created', 'repo:commit_status_updated']

const STATE: Record<string, BuildStatus> = {
  INPROGRESS: 'running',
  SUCCESSFUL: 'success',
  FAILED: 'failure',
  STOPPED: 'canceled',
}

function verify(d: Delivery, secrets: Record<string, readonly string[]>) {
  const keys = secretList(secrets, SECRET_VAR)
  // Bitbucket puts SHA-256 under the header name GitHub used for SHA-1.
  const header = d.headers.get('x-hub-signature')
  if (!header) return fail('missing X-Hub-Signature header')
  if (!header.startsWith('sha256=')) return fail('X-Hub-Signature is not sha256=<hex>')
  const given = header.slice('sha256='.length).toLowerCase()
  return secretIn(given, keys, (k) => hmacHex(k, d.raw)) ? OK : fail('X-Hub-Signature does not match the body')
}

/** `…/commit/<sha>` → `<sha>`. */
function shaOf(href: string | null): string | null {
  const m = href ? /\/commit\/([0-9a-f]{7,64})\/?$/i.exec(href) : null
  return m ? m[1].toLowerCase() : null
}

function normalize(d: Delivery, body: unknown): NormalizeResult {
  const event = str(d.headers.get(EVENT_HEADER), 100) ?? 'unknown'
  if (!EVENTS.includes(event)) {
    return { kind: 'ignored', event, reason: `${event} events are not commit statuses` }
  }
  const b = obj(body)
  if (!b) throw new BadPayload('body is not a JSON object')
  const cs = obj(b.commit_status)
  if (!cs) throw new BadPayload('missing commit_status')
  const key = str(cs.key, 100)
  if (!key) throw new BadPayload('missing commit_status.key')
  const project = str(obj(b.repository)?.full_name)
  if (!project) throw new BadPayload('missing repository.full_name')
  const state = str(cs.state, 50)
  const status = lookup(STATE, state)
  if (!status) return { kind: 'ignored', event, reason: `unknown commit status state: ${state}` }

  const commitHref = str(obj(obj(cs.links)?.commit)?.href, 2000)
  const sha = shaOf(commitHref)
  // No build id: the tool's key per commit, so a new commit is a new build of the same pipeline.
  const u = emptyUpdate('bitbucket', `${key}@${sha ?? str(cs.url, 99) ?? ''}`, project)
  u.pipeline = str(cs.name) ?? key
  u.branch = str(cs.refname) ?? ''
  u.status = status
  u.commit.sha = sha
  u.actor = str(obj(b.actor)?.display_name, 200) ?? str(obj(b.actor)?.nickname, 200)
  u.url = str(cs.url, 2000)
  u.startedAt = requiredTime(cs, 'created_on', 'commit_status.created_on')
  u.eventTime = requiredTime(cs, 'updated_on', 'commit_status.updated_on')
  if (isTerminal(status)) {
    u.finishedAt = u.eventTime
    u.durationMs = spanMs(u.startedAt, u.finishedAt)
  }
  // X-Request-UUID may change between Bitbucket's retries, so dedup on the status itself.
  const deliveryId = ['bitbucket', key, commitHref, state, str(cs.updated_on, 100)].map((v) => v ?? '').join(':')
  return { kind: 'build', event, deliveryId, update: u }
}

export const bitbucket = defineProvider({
  name: 'bitbucket',
  title: 'Bitbucket Cloud',
  secrets: { [SECRET_VAR]: secretVar('comma-separated secrets') },
  eventHeaders: [EVENT_HEADER],
  verify,
  normalize,
})
