/**
 * @module POST /hooks/<provider>: read the raw bytes, verify, parse, normalize, then one writer
 * transaction. 2xx only after COMMIT; 401/400/413 with a reason a provider's delivery log shows.
 */
import { Hono, type Context } from 'hono'
import type { Config } from '../config.ts'
import { AppError, errorBody } from '../errors.ts'
import type { Logger } from '../log.ts'
import { buildUpdateSchema } from './model.ts'
import { BadPayload, type Delivery, type Provider, type VerifyResult } from './provider.ts'
import { byName, PROVIDERS } from './registry.ts'
import type { DeliveryInfo, DeliveryRecorder } from './ingest.ts'
import { zodMessage } from '../errors.ts'
import { clientIp } from '../http/client-ip.ts'
import { RateLimiter } from '../http/rate-limit.ts'
import { readBodyBytes, tooLarge } from '../http/body.ts'
import { access } from '../access/guard.ts'
import type { Telemetry, WebhookOutcome } from '../observability/telemetry.ts'
import { parseBody } from './payload.ts'
import { fail } from './verify.ts'

export const MAX_HOOK_BYTES = 5 * 1024 * 1024

/**
 * A provider's configured secrets, by variable. `Config` holds every served provider's secret
 * variables as lists: loadConfig reads them from the same provider list these routes serve.
 */
function secretsFor(config: Config, provider: Provider): Record<string, readonly string[]> {
  const all = config as unknown as Record<string, readonly string[] | undefined>
  return Object.fromEntries(Object.keys(provider.secrets).map((v) => [v, all[v] ?? []]))
}

/** The 401 of a provider none of whose variables is set: it names them, so the provider's delivery log shows the fix. */
function unconfigured(provider: Provider, secrets: Record<string, readonly string[]>): VerifyResult | null {
  if (Object.values(secrets).some((list) => list.length > 0)) return null
  return fail(`no secret configured: set ${Object.keys(provider.secrets).join(' or ')}`)
}

export function hookRoutes(deps: {
  config: Config
  /** Where deliveries go: one writer transaction each, on the engine's writer. */
  deliveries: DeliveryRecorder
  log: Logger
  telemetry: Telemetry
  /** The providers served; the registry's unless a test serves its own list. */
  providers?: readonly Provider[]
}) {
  const { config, deliveries, log, telemetry } = deps
  const served = byName(deps.providers ?? PROVIDERS)
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
      if (c.error && served.has(c.req.param('provider')!)) telemetry.webhook(c.req.param('provider')!, 'failed')
    },
    async (c) => {
      const name = c.req.param('provider')!
      const provider = served.get(name)
      if (!provider) throw new AppError('NOT_FOUND', `no such provider; one of ${[...served.keys()].join(', ')}`)
      const count = (outcome: WebhookOutcome) => telemetry.webhook(name, outcome)
      // Read from Node's request: over the limit it is a 413 that closes the connection, and a
      // client leaving mid-body is a quiet ClientGoneError (request.ts), not a failed body stream.
      const raw = await readBodyBytes(c, MAX_HOOK_BYTES)
      if (raw === null) throw tooLarge(MAX_HOOK_BYTES)
      const delivery: Delivery = { headers: c.req.raw.headers, raw, url: new URL(c.req.url), receivedAt: Date.now() }
      const info: DeliveryInfo = {
        provider: name,
        event: provider.eventHeaders.map((h) => delivery.headers.get(h)).find(Boolean) ?? null,
        deliveryId: null,
        receivedAt: delivery.receivedAt,
        size: raw.length,
      }
      const reject = async (code: 'UNAUTHORIZED' | 'BAD_REQUEST', message: string) => {
        await deliveries.log(info, 'rejected', message)
        log.info('webhook rejected', { provider: name, reason: message })
        count(code === 'UNAUTHORIZED' ? 'unauthorized' : 'invalid')
        return c.json(errorBody(code, message), code === 'UNAUTHORIZED' ? 401 : 400)
      }

      const secrets = secretsFor(config, provider)
      const verdict = unconfigured(provider, secrets) ?? provider.verify(delivery, secrets)
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
        await deliveries.log(info, 'ping', null)
        count('ping')
        return c.json({ ok: true, event: result.event })
      }
      if (result.kind === 'ignored') {
        info.deliveryId = result.deliveryId ?? null
        await deliveries.log(info, 'ignored', result.reason)
        count('ignored')
        return c.json({ ignored: result.reason }, 202)
      }
      const parsed = buildUpdateSchema.safeParse(result.update)
      if (!parsed.success) return reject('BAD_REQUEST', `normalized build is invalid: ${zodMessage(parsed.error)}`)
      const withId = { ...info, deliveryId: result.deliveryId }
      const r = await deliveries.applyBuild(withId, parsed.data, delivery)
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
