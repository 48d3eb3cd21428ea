import { fileURLToPath } from 'node:url';
import react from '@vitejs/plugin-react';
import { defineConfig } from 'vite';

const root = fileURLToPath(new URL('.', import.meta.url));

// The console is served by the manager at `/`; in development `vite` proxies the API to a
// manager on STEWARD_DEV_API (default http://127.0.0.1:18500) so the session cookie stays
// same-origin.
export default defineConfig({
  root,
  base: '/',
  plugins: [react()],
  build: {
    outDir: fileURLToPath(new URL('../../dist/console', import.meta.url)),
    emptyOutDir: true,
    sourcemap: false,
    chunkSizeWarningLimit: 1500,
  },
  server: {
    proxy: { '/api': process.env.STEWARD_DEV_API ?? 'http://127.0.0.1:18500' },
  },
  preview: {
    proxy: { '/api': process.env.STEWARD_DEV_API ?? 'http://127.0.0.1:18500' },
  },
});
