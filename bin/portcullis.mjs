#!/usr/bin/env node
// Runs the TypeScript CLI directly so `npx portcullis` works right after `npm install`, with no build step.
import { register } from 'tsx/esm/api';

register();
const { main } = await import('../tunnel/cli.ts');
process.exitCode = await main(process.argv.slice(2));
