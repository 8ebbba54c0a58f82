/**
 * @module Access control for the whole app: credentials, the guard every route declares, sign-in
 * routes, CSRF and the first-start sign-in link. Built before the app (every route needs it), not
 * mounted as an optional capability.
 */
import type { Config } from '../config.ts'
import type { Store } from '../db/client.ts'
import type { Writer } from '../db/writer.ts'
import { Credentials } from './credentials.ts'
import { AccessControl } from './guard.ts'
import type { Hub } from '../live/hub.ts'
import { accessRoutes } from './routes.ts'
import { oidcRoutes } from './oidc.ts'
import { screenRoutes } from './screen-routes.ts'
import { Screens } from './screens.ts'

export function createAccess(config: Config, store: Store, writer: Writer, hub: Hub) {
  const credentials = new Credentials(store.db, writer)
  const control = new AccessControl(config, credentials)
  const screens = new Screens(store.db, writer)
  const routes = accessRoutes({ config, credentials, control })
  routes.route('/', screenRoutes({ config, credentials, screens, hub }))
  routes.route('/', oidcRoutes({ config, credentials }))
  return { credentials, control, screens, routes }
}

/**
 * With no admin token configured and no admin signed in, a one-time admin sign-in link (the way
 * Jupyter prints its `?token=` URL); null when someone can already administer this Radiator.
 */
export async function firstStartLink(
  config: Config,
  credentials: Credentials,
  baseUrl: string
): Promise<string | null> {
  if (config.ADMIN_TOKEN.length || credentials.hasAdmin()) return null
  return `${baseUrl}/signin?token=${await credentials.createSigninLink()}`
}
