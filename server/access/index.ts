/**
 * @module Access control for the whole app: credentials, the guard every route declares, sign-in
 * routes, CSRF and the first-start sign-in link. Built before the app (every route needs it), not
 * mounted as an optional capability. On SQLite it reads the database; on PostgreSQL an in-memory
 * mirror kept in step across instances (pg-rows.ts), with pairings and rate limits shared over the bus.
 */
import type { Config } from '../config.ts'
import type { Store } from '../db/client.ts'
import type { Engine } from '../db/engine.ts'
import type { Writer } from '../db/writer.ts'
import { type Bus, LocalBus } from '../cluster/bus.ts'
import { Credentials } from './credentials.ts'
import { AccessControl } from './guard.ts'
import type { Hub } from '../live/hub.ts'
import { accessRoutes } from './routes.ts'
import { oidcRoutes } from './oidc.ts'
import { Pairings } from './pairing.ts'
import { PgAccessRows, type PgAccessOptions } from './pg-rows.ts'
import { clusterLinks, localLinks } from './screen-links.ts'
import { screenRoutes } from './screen-routes.ts'
import { Screens } from './screens.ts'
import { SqliteAccessRows } from './sqlite-rows.ts'

export type Access = ReturnType<typeof build>

/**
 * Access on the engine, in step with the other instances through the bus. Await `ready` before
 * serving (on PostgreSQL the credential mirror loads first; until then credential checks answer 503);
 * `close()` on shutdown, before the store closes.
 */
export function createAccess(config: Config, engine: Engine, hub: Hub, bus: Bus, opts?: PgAccessOptions): Access
/** The SQLite-only form, alone on one instance. */
export function createAccess(config: Config, store: Store, writer: Writer, hub: Hub): Access
export function createAccess(
  config: Config,
  a: Engine | Store,
  b: Hub | Writer,
  c: Bus | Hub,
  opts?: PgAccessOptions
): Access {
  if ('kind' in a) return build(config, a, b as Hub, c as Bus, opts)
  return build(config, { kind: 'sqlite', store: a, writer: b as Writer }, c as Hub, new LocalBus())
}

function build(config: Config, engine: Engine, hub: Hub, bus: Bus, opts?: PgAccessOptions) {
  const rows =
    engine.kind === 'sqlite'
      ? new SqliteAccessRows(engine.store.db, engine.writer)
      : new PgAccessRows(engine.store, engine.writer, bus, opts)
  const credentials = new Credentials(rows)
  const control = new AccessControl(config, credentials, bus)
  const screens = new Screens(rows)
  const pairings = new Pairings(credentials, bus)
  const links = engine.kind === 'sqlite' ? localLinks(hub) : clusterLinks(hub, bus)
  const routes = accessRoutes({ config, credentials, control, bus })
  routes.route('/', screenRoutes({ config, credentials, screens, links, bus, pairings }))
  routes.route('/', oidcRoutes({ config, credentials }))
  return {
    credentials,
    control,
    screens,
    pairings,
    routes,
    ready: rows.ready,
    close() {
      links.close()
      pairings.close()
      rows.close()
    },
  }
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
  await credentials.rows.ready
  if (config.ADMIN_TOKEN.length || credentials.hasAdmin()) return null
  return `${baseUrl}/signin?token=${await credentials.createSigninLink()}`
}
