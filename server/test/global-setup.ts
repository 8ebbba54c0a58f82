/** Builds the dashboard once before the suite, so process and browser tests don't race to build it. */
import { buildWeb } from '../../web/build.ts'
import { webBuildIsStale } from '../http/web-build.ts'

export default async function setup() {
  if (webBuildIsStale()) await buildWeb()
}
