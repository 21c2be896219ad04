#!/usr/bin/env node
// The installed `portcullis` command: runs the CLI compiled to dist/cli by `npm install` (scripts/build-cli.mjs).
const entry = new URL('../dist/cli/cli.js', import.meta.url);

let cli;
try {
  cli = await import(entry.href);
} catch (error) {
  if (error?.code !== 'ERR_MODULE_NOT_FOUND' || !String(error.message).includes(entry.pathname)) throw error;
  const root = new URL('..', import.meta.url).pathname;
  process.stderr.write(
    `portcullis: not built yet; run \`npm install\` (or \`npm run build:cli\`) in ${root}\n`,
  );
  process.exit(1);
}
process.exitCode = await cli.main(process.argv.slice(2));
