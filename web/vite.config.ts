import { defineConfig } from 'vite'
import solid from 'vite-plugin-solid'
import { fileURLToPath } from 'node:url'

const web = fileURLToPath(new URL('./', import.meta.url))

export default defineConfig({
  root: web,
  plugins: [solid()],
  resolve: { alias: { '~': `${web}src` } },
  build: {
    outDir: `${web}dist`,
    emptyOutDir: true,
    target: 'es2020',
    // The page must work on a TV with no internet: everything is bundled, nothing from a CDN.
    assetsInlineLimit: 4096,
  },
  server: {
    proxy: {
      '/live': { target: 'http://localhost:8080', ws: true },
      '/api': 'http://localhost:8080',
      '/healthz': 'http://localhost:8080',
    },
  },
})
