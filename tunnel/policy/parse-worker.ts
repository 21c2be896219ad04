/**
 * A worker thread of the ParseWorkerPool: classifies large statements with the same classifier the
 * event loop uses, so that their parse and walk cost the other sessions nothing.
 *
 * A job names its classifier configuration by number and carries the configuration itself the first
 * time this worker meets the number (what the database defines beyond the built-ins can be large).
 */
import { parentPort } from 'node:worker_threads';
import { createClassifier, loadClassifier, type Classifier, type ClassifierOptions } from './classifier.ts';
import { toPlain, type PlainClassification } from './classification-transfer.ts';

export interface ParseJob {
  id: number;
  sql: string;
  config: number;
  options?: ClassifierOptions;
}

export type ParseReply = { id: number; plain: PlainClassification } | { id: number; error: string };

/** As many configurations as the engine keeps classifiers for. */
const MAX_CONFIGS = 16;

const port = parentPort;
if (port) {
  await loadClassifier();
  const classifiers = new Map<number, Classifier>();
  port.on('message', (job: ParseJob) => {
    let reply: ParseReply;
    try {
      let classifier = classifiers.get(job.config);
      if (!classifier) {
        if (!job.options) throw new Error(`no configuration ${job.config} was sent to this worker`);
        if (classifiers.size >= MAX_CONFIGS) classifiers.delete(classifiers.keys().next().value!);
        classifier = createClassifier(job.options);
        classifiers.set(job.config, classifier);
      }
      reply = { id: job.id, plain: toPlain(classifier.classify(job.sql), job.sql) };
    } catch (error) {
      reply = { id: job.id, error: error instanceof Error ? error.message : String(error) };
    }
    port.postMessage(reply);
  });
}
