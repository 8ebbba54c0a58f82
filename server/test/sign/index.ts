/** @module Every provider's signer by route name, and a test server's secrets for all of them. */
import type { ConfigVar } from '../../config.ts'
import * as azure from './azure-devops.ts'
import * as bitbucket from './bitbucket.ts'
import * as buildkite from './buildkite.ts'
import * as circleci from './circleci.ts'
import * as drone from './drone.ts'
import * as gitea from './gitea.ts'
import * as github from './github.ts'
import * as gitlab from './gitlab.ts'
import * as jenkins from './jenkins.ts'

export type Signer = (raw: Buffer, secret: string, now?: number) => Record<string, string>

/** The headers each provider sends for `raw`, signed with `secret` exactly as it signs. */
export const SIGNERS: Record<string, Signer> = {
  github: github.sign,
  gitea: gitea.sign,
  gitlab: gitlab.sign,
  circleci: circleci.sign,
  buildkite: buildkite.sign,
  bitbucket: bitbucket.sign,
  'azure-devops': azure.sign,
  drone: drone.sign,
  jenkins: jenkins.sign,
}

/** Test-server environment with `secret` configured for every provider's webhook route. */
export function hookSecrets(secret: string): Partial<Record<ConfigVar, string>> {
  return {
    GITHUB_WEBHOOK_SECRET: secret,
    GITEA_WEBHOOK_SECRET: secret,
    GITLAB_WEBHOOK_TOKEN: secret,
    CIRCLECI_WEBHOOK_SECRET: secret,
    BUILDKITE_WEBHOOK_TOKEN: secret,
    BITBUCKET_WEBHOOK_SECRET: secret,
    AZURE_DEVOPS_WEBHOOK_TOKEN: secret,
    DRONE_WEBHOOK_SECRET: secret,
    JENKINS_WEBHOOK_TOKEN: secret,
    GENERIC_WEBHOOK_TOKEN: secret,
  }
}
