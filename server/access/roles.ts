/**
 * @module Who may do what. Every route declares exactly one access level where it is declared
 * (guard.ts); a credential carries one role. The route-table test walks the whole app, so a route
 * added later cannot be born without a level.
 */

/**
 * - public: reachable by anyone, each with its own check (a provider signature, a site + Origin,
 *   or nothing to hide: /healthz's status, the dashboard's code and the pairing screen).
 * - viewer: the dashboard's data, the read APIs, the live stream, cctray and badges.
 * - feed: cctray and badges; viewer, or anyone with PUBLIC_FEEDS.
 * - push: POST /api/metrics (a metrics-push or admin token).
 * - scrape: GET /metrics, the Prometheus series; viewer, or METRICS_SCRAPE_TOKEN (guard.ts).
 * - admin: tokens, sessions, screens, the delivery log and raw bodies, settings.
 */
export const ACCESS_LEVELS = ['public', 'viewer', 'feed', 'push', 'scrape', 'admin'] as const
export type AccessLevel = (typeof ACCESS_LEVELS)[number]

import type { Role } from '../../contract/vocabularies.ts'

export { ROLES, type Role, SESSION_ROLES, type SessionRole } from '../../contract/vocabularies.ts'

/** Whether `role` may use a route of `level`. */
export function allows(role: Role | null, level: AccessLevel): boolean {
  switch (level) {
    case 'public':
      return true
    case 'viewer':
    case 'feed':
    case 'scrape':
      return role === 'viewer' || role === 'admin'
    case 'push':
      return role === 'metrics-push' || role === 'admin'
    case 'admin':
      return role === 'admin'
  }
}
