/** @module The capabilities main.ts starts with the server, in mount order. */
import type { CapabilityFactory } from './server.ts'
import { ciCapability } from './ci/index.ts'
import { metricsCapability } from './metrics/index.ts'

export const capabilities: CapabilityFactory[] = [ciCapability, metricsCapability]
