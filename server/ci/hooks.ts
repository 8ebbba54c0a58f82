/**
 * @module POST /hooks/<provider>: read the raw bytes, verify, parse, normalize, then one writer
 * transaction. 2xx only after COMMIT; 401/400/413 with a reason a provider's delivery log shows.
 */
import { Hono, type Context } from 'hono'
import type { Config } from '../config.ts'
import type { Writer } from '../db/writer.ts'
import { AppError, errorBody } from '../errors.ts'
import type { Logger } from '../log.ts'
import { buildUpdateSchema } from './model.ts'
import { BadPayload, type Delivery, type Provider } from './provider.ts'
import { PROVIDER_NAMES, providerOf } from './registry.ts'
import type { DeliveryInfo, Ingest } from './ingest.ts'
import { zodMessage } from '../errors.ts'
import { clientIp } from '../http/client-ip.ts'
import { RateLimiter } from '../http/rate-limit.ts'
import { readBodyBytes, tooLarge } from '../http/body.ts'
import { access } from '../access/guard.ts'
import type { Telemetry, WebhookOutcome } from '../observability/telemetry.ts'
import { parseBody } from './payload.ts'

export const MAX_HOOK_BYTES = 5 * 1024 * 1024

/** Event name headers, for the delivery log of deliveries rejected before normalizing. */
const EVENT_HEADERS = [
  'x-github-event',
  'x-gitea-event',
  'x-forgejo-event',
  'x-gitlab-event',
  'circleci-event-type',
  'x-buildkite-event',
  'x-event-key',
  'x-drone-event',
]

function secretsFor(config: Config, vars: readonly string[]): Record<string, readonly string[]> {
  const out: Record<string, readonly string[]> = {}
  for (const v of vars) out[v] = (config as unknown as Record<string, string[]>)[v] ?? []
  return out
}

export function hookRoutes(deps: {
  config: Config
  writer: Writer
  ingest: Ingest
  log: Logger
  telemetry: Telemetry
}) {
  const { config, writer, ingest, log, telemetry } = deps
  const app = new Hono()
  // Only failed authentications are limited: a provider with the right secret is never refused
  // (GitHub does not retry), while guessing secrets or filling the delivery log is cut short.
  const authFailures = new RateLimiter(config.HOOK_AUTH_FAILURES_PER_MINUTE)

  app.post(
    '/:provider',
    // Public by nature: each provider's signature or token is checked below, on the raw bytes.
    access.public,
    async function countFailed(c, next) {
      await next()
      // Thrown (413, 503 while the disk refuses, a bug): answered by the app's error handler.
      if (c.error && providerOf(c.req.param('provider')!)) telemetry.webhook(c.req.param('provider')!, 'failed')
    },
    async (c) => {
      const name = c.req.param('provider')!
      const provider = providerOf(name)
      if (!provider) throw new AppError('NOT_FOUND', `no such provider; one of ${PROVIDER_NAMES.join(', ')}`)
      const count = (outcome: WebhookOutcome) => telemetry.webhook(name, outcome)
      // Read from Node's request: over the limit it is a 413 that closes the connection, and a
      // client leaving mid-body is a quiet ClientGoneError (request.ts), not a failed body stream.
      const raw = await readBodyBytes(c, MAX_HOOK_BYTES)
      if (raw === null) throw tooLarge(MAX_HOOK_BYTES)
      const delivery: Delivery = { headers: c.req.raw.headers, raw, url: new URL(c.req.url), receivedAt: Date.now() }
      const info: DeliveryInfo = {
        provider: name,
        event: EVENT_HEADERS.map((h) => delivery.headers.get(h)).find(Boolean) ?? null,
        deliveryId: null,
        receivedAt: delivery.receivedAt,
        size: raw.length,
      }
      const reject = async (code: 'UNAUTHORIZED' | 'BAD_REQUEST', message: string) => {
        await writer.write(() => ingest.log(info, 'rejected', message))
        log.info('webhook rejected', { provider: name, reason: message })
        count(code === 'UNAUTHORIZED' ? 'unauthorized' : 'invalid')
        return c.json(errorBody(code, message), code === 'UNAUTHORIZED' ? 401 : 400)
      }

      const verdict = provider.verify(delivery, secretsFor(config, provider.secretVars))
      if (!verdict.ok) {
        if (!authFailures.take(clientIp(c, config.TRUST_PROXY))) {
          count('rate_limited')
          return c.json(errorBody('TOO_MANY_REQUESTS', 'too many failed authentications; try again in a minute'), 429, {
            'retry-after': '60',
          })
        }
        return reject('UNAUTHORIZED', verdict.reason)
      }
      let body: unknown
      try {
        body = parseBody(raw)
      } catch {
        return reject('BAD_REQUEST', 'body is not valid JSON')
      }
      let result: ReturnType<Provider['normalize']>
      try {
        result = provider.normalize(delivery, body)
      } catch (e) {
        if (e instanceof BadPayload) return reject('BAD_REQUEST', e.message)
        throw e
      }
      info.event = result.event
      if (result.kind === 'ping') {
        await writer.write(() => ingest.log(info, 'ping', null))
        count('ping')
        return c.json({ ok: true, event: result.event })
      }
      if (result.kind === 'ignored') {
        info.deliveryId = result.deliveryId ?? null
        await writer.write(() => ingest.log(info, 'ignored', result.reason))
        count('ignored')
        return c.json({ ignored: result.reason }, 202)
      }
      const parsed = buildUpdateSchema.safeParse(result.update)
      if (!parsed.success) return reject('BAD_REQUEST', `normalized build is invalid: ${zodMessage(parsed.error)}`)
      const withId = { ...info, deliveryId: result.deliveryId }
      const r = await writer.write((sqlite) => ingest.applyBuild(sqlite, withId, parsed.data, delivery))
      count(r.outcome === 'duplicate' || r.outcome === 'superseded' ? r.outcome : 'stored')
      if (r.outcome === 'duplicate') return c.json({ duplicate: true })
      return c.json({ stored: true, outcome: r.outcome, build: r.buildId, status: r.status, transition: r.transition })
    }
  )
  app.all('/:provider', access.public, (c: Context) => {
    throw new AppError('METHOD_NOT_ALLOWED', `webhooks are POSTed; ${c.req.method} is not accepted here`)
  })
  return app
}
