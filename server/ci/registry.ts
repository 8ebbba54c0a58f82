/**
 * @module Every CI provider, in the order the README lists them. Adding one is its file, its fixtures
 * and one line in PROVIDERS: its route, secret variables (config.ts), 401 hint and event headers
 * (hooks.ts), the README check and the demo all come from the provider object.
 */
import { z } from 'zod'
import type { Provider, SecretEntry, SecretVarOf } from './provider.ts'
import { azureDevops } from './providers/azure-devops.ts'
import { bitbucket } from './providers/bitbucket.ts'
import { buildkite } from './providers/buildkite.ts'
import { circleci } from './providers/circleci.ts'
import { drone } from './providers/drone.ts'
import { generic } from './providers/generic.ts'
import { gitea } from './providers/gitea.ts'
import { github } from './providers/github.ts'
import { gitlab } from './providers/gitlab.ts'
import { jenkins } from './providers/jenkins.ts'

export const PROVIDERS = [
  github,
  gitea,
  gitlab,
  circleci,
  buildkite,
  bitbucket,
  azureDevops,
  drone,
  jenkins,
  generic,
] as const

/** Every secret variable a provider of the registry declares. */
export type ProviderSecretVar = SecretVarOf<(typeof PROVIDERS)[number]>

/** A provider list by route name; a route or secret variable declared twice is a start-up error. */
export function byName(providers: readonly Provider[]): ReadonlyMap<string, Provider> {
  const map = new Map<string, Provider>()
  const owners = new Map<string, string>()
  for (const p of providers) {
    if (map.has(p.name)) throw new Error(`two CI providers are named ${p.name}`)
    map.set(p.name, p)
    for (const v of Object.keys(p.secrets)) {
      const other = owners.get(v)
      if (other) throw new Error(`${v} is a secret variable of both ${other} and ${p.name}`)
      owners.set(v, p.name)
    }
  }
  return map
}

/** Every provider's secret variables as configuration entries, in provider order (config.ts reads them). */
export function secretVars<P extends readonly Provider[]>(providers: P): Record<SecretVarOf<P[number]>, SecretEntry> {
  byName(providers)
  return Object.fromEntries(providers.flatMap((p) => Object.entries(p.secrets))) as Record<
    SecretVarOf<P[number]>,
    SecretEntry
  >
}

const registry = byName(PROVIDERS)

/** Every provider's route name, in registry order. */
export const PROVIDER_NAMES: readonly string[] = [...registry.keys()]

/** The provider a route name stands for; undefined for anything else (`constructor` included). */
export function providerOf(name: string): Provider | undefined {
  return registry.get(name)
}

/** A query's `provider=`: one of the registry's names (a 400 naming them otherwise). */
export const providerParam = z.string().refine((name) => providerOf(name) !== undefined, {
  message: `unknown provider; one of ${PROVIDER_NAMES.join(', ')}`,
})
