/**
 * The beacon (web/beacon) as one self-contained classic script, web/dist/beacon.js, built after the
 * dashboard into the same directory. Its budget is 3 KB gzipped with web-vitals; a test measures it.
 */
import { defineConfig } from 'vite'
import { fileURLToPath } from 'node:url'

const web = fileURLToPath(new URL('./', import.meta.url))

export default defineConfig({
  root: web,
  publicDir: false,
  build: {
    outDir: `${web}dist`,
    // The dashboard was built into the same directory a moment ago.
    emptyOutDir: false,
    // Lowering web-vitals' class fields for older engines adds helpers that break the budget; an
    // engine too old to parse it (Safari < 14.1) just skips this separate script, and lacks the
    // performance APIs anyway.
    target: 'es2022',
    minify: true,
    sourcemap: false,
    copyPublicDir: false,
    lib: {
      entry: `${web}beacon/beacon.ts`,
      formats: ['iife'],
      name: 'radiatorBeacon',
      fileName: () => 'beacon.js',
    },
  },
})
