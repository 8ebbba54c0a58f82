import { defineConfig } from 'drizzle-kit'

/** The PostgreSQL store's migrations (issue 17): `npm run db:generate:pg`. SQLite's stay in migrations/ (drizzle.config.ts). */
export default defineConfig({
  dialect: 'postgresql',
  schema: './server/db/pg/schema.ts',
  out: './migrations/pg',
  strict: true,
})
