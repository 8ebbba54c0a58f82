/**
 * @module The generic hook: anything that can run curl (a deploy script, a Makefile, a CI without
 * webhooks) posts the build model itself, authenticated with a bearer token.
 */
import { z } from 'zod'
import { randomUUID } from 'node:crypto'
import { buildUpdateSchema, emptyUpdate } from '../model.ts'
import { buildStatus } from '../../../contract/builds.ts'
import { BadPayload, defineProvider, secretVar } from '../provider.ts'
import { fail, OK, secretList } from '../verify.ts'
import { credentialFrom, secretIn } from '../../http/auth.ts'
import { spanMs } from '../time.ts'
import { zodMessage } from '../../errors.ts'

const VAR = 'GENERIC_WEBHOOK_TOKEN'
const u = buildUpdateSchema.shape

/** The same build model, with only `project` and `status` required. */
export const genericBody = z.object({
  id: z.string().min(1).max(200).optional(),
  project: u.project,
  status: buildStatus,
  pipeline: u.pipeline.optional(),
  branch: u.branch.optional(),
  tag: u.tag.optional(),
  pullRequest: u.pullRequest.optional(),
  number: u.number.optional(),
  attempt: u.attempt.optional(),
  commit: u.commit.partial().optional(),
  actor: u.actor.optional(),
  url: u.url.optional(),
  trigger: u.trigger.optional(),
  queuedAt: u.queuedAt.optional(),
  startedAt: u.startedAt.optional(),
  finishedAt: u.finishedAt.optional(),
  durationMs: u.durationMs.optional(),
  jobs: z
    .array(u.jobs.element.partial({ id: true, startedAt: true, finishedAt: true, url: true }))
    .max(500)
    .optional(),
})

export const generic = defineProvider({
  name: 'generic',
  title: 'Generic',
  secrets: { [VAR]: secretVar('comma-separated bearer tokens') },
  eventHeaders: [],
  verify(d, secrets) {
    const tokens = secretList(secrets, VAR)
    const given = credentialFrom(d.headers.get('authorization'))
    if (!given) return fail('missing Authorization: Bearer <token> header')
    return secretIn(given, tokens) ? OK : fail('token does not match')
  },
  normalize(d, body) {
    const r = genericBody.safeParse(body)
    if (!r.success) throw new BadPayload(zodMessage(r.error))
    const b = r.data
    const externalId = b.id ?? randomUUID()
    const up = emptyUpdate('generic', externalId, b.project)
    Object.assign(up, {
      attempt: b.attempt ?? 1,
      pipeline: b.pipeline ?? 'build',
      branch: b.branch ?? '',
      tag: b.tag ?? null,
      pullRequest: b.pullRequest ?? null,
      number: b.number ?? null,
      status: b.status,
      commit: {
        sha: b.commit?.sha ?? null,
        subject: b.commit?.subject?.split('\n')[0] ?? null,
        author: b.commit?.author ?? null,
      },
      actor: b.actor ?? null,
      url: b.url ?? null,
      trigger: b.trigger ?? null,
      queuedAt: b.queuedAt ?? null,
      startedAt: b.startedAt ?? null,
      finishedAt: b.finishedAt ?? null,
      durationMs: b.durationMs ?? spanMs(b.startedAt ?? null, b.finishedAt ?? null),
      eventTime: b.finishedAt ?? b.startedAt ?? b.queuedAt ?? null,
      jobs: (b.jobs ?? []).map((j, i) => ({
        id: j.id ?? `${i}:${j.name}`,
        name: j.name,
        status: j.status,
        startedAt: j.startedAt ?? null,
        finishedAt: j.finishedAt ?? null,
        url: j.url ?? null,
      })),
    })
    // With an id, posting the same state twice is a duplicate; a new state of the id is an update.
    const key = d.headers.get('idempotency-key') ?? (b.id ? `${b.id}:${up.attempt}:${b.status}` : externalId)
    return { kind: 'build', event: 'build', deliveryId: key, update: up }
  },
})
