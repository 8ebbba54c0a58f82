/** @module Every CI provider, by route name. Adding a provider is its file, its fixtures and one line here. */
import { z } from 'zod'
import type { Provider } from './provider.ts'
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

export const providers: Readonly<Record<string, Provider>> = {
  github,
  gitea,
  gitlab,
  circleci,
  buildkite,
  bitbucket,
  'azure-devops': azureDevops,
  drone,
  jenkins,
  generic,
}

/** Every provider's route name, in registry order. */
export const PROVIDER_NAMES: readonly string[] = Object.keys(providers)

/** The provider a route name stands for; undefined for anything else (`constructor` included). */
export function providerOf(name: string): Provider | undefined {
  return Object.hasOwn(providers, name) ? providers[name] : undefined
}

/** A query's `provider=`: one of the registry's names (a 400 naming them otherwise). */
export const providerParam = z
  .string()
  .refine((name) => providerOf(name) !== undefined, {
    message: `unknown provider; one of ${PROVIDER_NAMES.join(', ')}`,
  })
