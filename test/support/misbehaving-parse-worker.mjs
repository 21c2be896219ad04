// A parse worker that misbehaves on demand, for ParseWorkerPool's fail-closed paths: a text containing
// CRASH throws, EXIT exits, HANG never answers, ERROR answers with an error; anything else is a read.
import { parentPort } from 'node:worker_threads';

parentPort.on('message', ({ id, sql }) => {
  if (sql.includes('CRASH')) throw new Error('the parser hit something it could not survive');
  if (sql.includes('EXIT')) process.exit(3);
  if (sql.includes('HANG')) for (;;);
  if (sql.includes('ERROR')) return parentPort.postMessage({ id, error: 'out of memory' });
  parentPort.postMessage({
    id,
    plain: {
      classes: ['read'],
      statements: [
        { classes: ['read'], tables: [], writes: [], text: { at: 0, length: sql.length }, unresolved: [] },
      ],
      tables: [],
      reasons: [],
      prepared: [],
      executes: [],
      settings: [],
      cursors: [],
    },
  });
});
