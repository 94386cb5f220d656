/// <reference types="vitest/config" />
import { defineConfig } from 'vite';

// In development `VITE_API_BASE=http://localhost:8080 npm run dev` proxies the API (and the
// index) to a running `refinery serve`, so the browser sees one origin and the
// `worker_token` cookie works as it does when the UI is served by the binary.
const apiTarget = process.env.VITE_API_BASE || 'http://127.0.0.1:8080';
const proxied = ['/api', '/simple', '/files', '/metrics', '/healthz'];

export default defineConfig({
  base: '/',
  oxc: { jsx: { runtime: 'automatic' } },
  build: {
    outDir: 'dist',
    emptyOutDir: true,
    sourcemap: false,
    chunkSizeWarningLimit: 600,
  },
  server: {
    proxy: Object.fromEntries(proxied.map((p) => [p, { target: apiTarget, changeOrigin: true }])),
  },
  test: {
    environment: 'jsdom',
    include: ['test/**/*.test.{ts,tsx}'],
  },
});
