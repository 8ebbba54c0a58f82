/** @module Every CI provider, by route name. Adding a provider is its file, its fixtures and one line here. */
import type { ProviderName } from './model.ts'
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

export const providers: Record<ProviderName, Provider> = {
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
