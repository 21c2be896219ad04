/**
 * Classifying a large statement off the event loop. Parsing and walking grow with the text (a 1 MiB
 * statement took 0.4–1.2 s), and on the event loop every other session waited that long, so texts of
 * OFF_THREAD_MIN_LENGTH or more are classified by a few worker threads running the same classifier.
 * Small statements never come here: they stay synchronous, with no promise and no copy.
 *
 * Fails closed: a worker that crashes, hangs past the deadline or answers with an error rejects the
 * job (the caller denies the statement), and the queue of jobs waiting for a worker is bounded.
 */
import { existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import { availableParallelism } from 'node:os';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { Worker } from 'node:worker_threads';
import type { Classification } from './classification.ts';
import type { ClassifierOptions } from './classifier.ts';
import { fromPlain } from './classification-transfer.ts';
import type { ParseJob, ParseReply } from './parse-worker.ts';

/** 32 Ki characters: classifying it on the event loop costs a few milliseconds; below, less. */
export const OFF_THREAD_MIN_LENGTH = 32 * 1024;

/** Why a large statement could not be classified; `code` is the SQLSTATE to deny it with. */
export class InspectionFailed extends Error {
  constructor(
    message: string,
    readonly code?: string,
  ) {
    super(message);
  }
}

export interface ParseWorkerPoolOptions {
  /** Worker threads at most; default one less than the cores, between 1 and 4. */
  size?: number;
  /** Jobs waiting for a worker at most; more are refused (53400). Default 32. */
  maxQueued?: number;
  /** How long one classification may take before its worker is stopped and the job refused. Default 30 s. */
  timeoutMs?: number;
  /** How long a worker may sit idle before it is stopped, releasing its memory. Default 30 s. */
  idleMs?: number;
  /** The worker's script; the pool's own parse-worker unless a test supplies a misbehaving one. */
  entry?: URL;
}

interface Job {
  message: ParseJob;
  options: ClassifierOptions;
  sql: string;
  resolve(classification: Classification): void;
  reject(error: InspectionFailed): void;
}

interface Thread {
  worker: Worker;
  job?: Job;
  timer?: NodeJS.Timeout;
  /** Whether the thread has started running JavaScript: its deadline counts from then, not its start. */
  online: boolean;
  /** Configurations this worker was sent, oldest first, evicted as the worker evicts them. */
  configs: Set<number>;
}

/** As many configurations as parse-worker.ts keeps. */
const MAX_CONFIGS = 16;

export class ParseWorkerPool {
  private readonly threads: Thread[] = [];
  private readonly queue: Job[] = [];
  /** Numbers for configurations, so that engines sharing one share a worker's classifier and cache. */
  private readonly configs = new WeakMap<ClassifierOptions, number>();
  private nextConfig = 0;
  private nextJob = 0;
  private idleTimer: NodeJS.Timeout | undefined;
  private closed = false;
  private readonly size: number;
  private readonly maxQueued: number;
  private readonly timeoutMs: number;
  private readonly idleMs: number;

  constructor(private readonly options: ParseWorkerPoolOptions = {}) {
    this.size = options.size ?? Math.min(4, Math.max(1, availableParallelism() - 1));
    this.maxQueued = options.maxQueued ?? 32;
    this.timeoutMs = options.timeoutMs ?? 30_000;
    this.idleMs = options.idleMs ?? 30_000;
  }

  /** Classifies like createClassifier(options).classify, in a worker. */
  classifierFor(options: ClassifierOptions): (sql: string) => Promise<Classification> {
    let config = this.configs.get(options);
    if (config === undefined) this.configs.set(options, (config = this.nextConfig++));
    const id = config;
    return (sql) => this.classify(sql, id, options);
  }

  /** Stops every worker; jobs not finished are refused. */
  async close(): Promise<void> {
    this.closed = true;
    clearTimeout(this.idleTimer);
    for (const job of this.queue.splice(0)) job.reject(new InspectionFailed('the tunnel is shutting down'));
    await Promise.all([...this.threads].map((thread) => this.stop(thread, 'the tunnel is shutting down')));
  }

  private classify(sql: string, config: number, options: ClassifierOptions): Promise<Classification> {
    if (this.closed) return Promise.reject(new InspectionFailed('the tunnel is shutting down'));
    if (this.queue.length >= this.maxQueued) {
      return Promise.reject(
        new InspectionFailed(
          `${this.queue.length} large statements are already waiting to be inspected; try again shortly`,
          '53400',
        ),
      );
    }
    return new Promise((resolve, reject) => {
      this.queue.push({ message: { id: this.nextJob++, sql, config }, options, sql, resolve, reject });
      this.dispatch();
    });
  }

  private dispatch(): void {
    clearTimeout(this.idleTimer);
    while (this.queue.length > 0) {
      let thread: Thread | undefined;
      try {
        thread = this.threads.find((t) => t.job === undefined) ?? this.spawn();
      } catch (error) {
        const reason = error instanceof Error ? error.message : String(error);
        for (const job of this.queue.splice(0)) job.reject(new InspectionFailed(reason));
        return;
      }
      if (!thread) return;
      this.send(thread, this.queue.shift()!);
    }
    if (this.threads.every((t) => t.job === undefined) && this.threads.length > 0) {
      this.idleTimer = setTimeout(() => void this.stopIdle(), this.idleMs).unref();
    }
  }

  private send(thread: Thread, job: Job): void {
    const { config } = job.message;
    const message: ParseJob = { ...job.message };
    if (!thread.configs.has(config)) {
      message.options = job.options;
      if (thread.configs.size >= MAX_CONFIGS) thread.configs.delete(thread.configs.values().next().value!);
      thread.configs.add(config);
    }
    thread.job = job;
    if (thread.online) this.startDeadline(thread);
    thread.worker.ref();
    thread.worker.postMessage(message);
  }

  /**
   * The job's deadline, from when the thread runs: creating a thread is not inspecting the statement,
   * and on a loaded machine it alone could eat a short deadline.
   */
  private startDeadline(thread: Thread): void {
    thread.timer = setTimeout(() => {
      void this.stop(thread, `inspecting the statement took longer than ${this.timeoutMs / 1000} s`);
    }, this.timeoutMs);
  }

  private spawn(): Thread | undefined {
    if (this.threads.length >= this.size) return undefined;
    const worker = startWorker(this.options.entry);
    const thread: Thread = { worker, online: false, configs: new Set() };
    worker.once('online', () => {
      thread.online = true;
      if (thread.job) this.startDeadline(thread);
    });
    worker.on('message', (reply: ParseReply) => this.settle(thread, reply));
    worker.on('error', (error) => void this.stop(thread, `the statement inspector failed: ${error.message}`));
    worker.on(
      'exit',
      (code) => void this.stop(thread, `the statement inspector stopped (exit code ${code})`),
    );
    this.threads.push(thread);
    return thread;
  }

  private settle(thread: Thread, reply: ParseReply): void {
    const job = thread.job;
    if (!job || job.message.id !== reply.id) return;
    clearTimeout(thread.timer);
    thread.job = undefined;
    thread.worker.unref();
    if ('error' in reply)
      job.reject(new InspectionFailed(`the statement could not be inspected: ${reply.error}`));
    else job.resolve(fromPlain(reply.plain, job.sql));
    this.dispatch();
  }

  /** Ends a worker (once) and refuses its job; the queue moves on to a new worker. */
  private async stop(thread: Thread, reason: string): Promise<void> {
    const index = this.threads.indexOf(thread);
    if (index < 0) return;
    this.threads.splice(index, 1);
    clearTimeout(thread.timer);
    thread.job?.reject(new InspectionFailed(`the statement could not be inspected: ${reason}`));
    thread.job = undefined;
    await thread.worker.terminate();
    if (!this.closed) this.dispatch();
  }

  private async stopIdle(): Promise<void> {
    const idle = this.threads.filter((t) => t.job === undefined);
    await Promise.all(idle.map((thread) => this.stop(thread, 'idle')));
  }
}

/**
 * The worker's script. Run from source (tests, tsx) it is parse-worker.ts, which Node loads only with
 * tsx's loader registered inside the worker (Node 20 does not pass --import on to workers). Compiled,
 * build-cli.mjs puts parse-worker.js at the top of dist/cli (electron.vite.config.ts at the top of
 * out/main), and this module sits there or in chunks/.
 */
function startWorker(entry: URL | undefined): Worker {
  if (entry) return new Worker(entry);
  const here = import.meta.url;
  if (here.endsWith('.ts')) {
    const tsxApi = pathToFileURL(createRequire(here).resolve('tsx/esm/api')).href.replace(/\.cjs$/, '.mjs');
    const script = new URL('./parse-worker.ts', here).href;
    const bootstrap = `import(${JSON.stringify(tsxApi)}).then(({ register }) => { register(); return import(${JSON.stringify(script)}); })`;
    return new Worker(bootstrap, { eval: true });
  }
  const compiled = ['./parse-worker.js', '../parse-worker.js']
    .map((candidate) => new URL(candidate, here))
    .find((url) => existsSync(fileURLToPath(url)));
  if (!compiled)
    throw new InspectionFailed('the statement inspector (parse-worker.js) is missing from this build');
  return new Worker(compiled);
}

let shared: ParseWorkerPool | undefined;

/** One pool for the process, like the parser's WebAssembly module: workers start on first use. */
export function sharedParseWorkerPool(): ParseWorkerPool {
  return (shared ??= new ParseWorkerPool());
}
