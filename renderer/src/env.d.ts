import type { PortcullisApi } from '../../preload/api.ts';

declare global {
  interface Window {
    /** Defined by the preload (preload/index.ts); the renderer's only way out of its sandbox. */
    readonly portcullis: PortcullisApi;
  }
}

export {};
