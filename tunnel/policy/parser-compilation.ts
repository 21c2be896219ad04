/**
 * How V8 compiles libpg-query's WebAssembly: with its baseline compiler (Liftoff) only.
 *
 * By default V8 re-compiles a WebAssembly function that runs hot with its optimising compiler
 * (TurboFan), on a background thread. PostgreSQL's parser and normaliser are a few functions of
 * 80–260 KB of code; optimising the biggest took 1–3 s of CPU and ~100 MB of compiler memory, which
 * glibc then keeps resident in the compiling thread's malloc arena. A guard's resident memory rose
 * by 80–100 MB for good a few statements after it started (measured: libpg-query alone, 3 statements
 * normalised, RSS +98 MB by default and +2 MB with Liftoff only). The optimised code saves about
 * 1 µs of CPU a call (normalise 3.7 µs against 4.7 µs, parse and tree 8.9 µs against 9.9 µs), and the
 * classifier's text and shape caches make those calls rare.
 *
 * V8 reads the flag when it starts compiling a module, which libpg-query does once it has read its
 * .wasm file, after the module graph that imports it has been evaluated: this module is evaluated
 * in that graph, before any I/O completes, so the flag is set in time. It applies to every
 * WebAssembly module the process compiles later; this process compiles no other.
 */
import { setFlagsFromString } from 'node:v8';

setFlagsFromString('--liftoff-only');
