/** Types of scripts/layers.mjs (plain JavaScript so that eslint.config.js can import it). */
export interface Room {
  type: string;
  pattern: string | string[];
  label: string;
  mayImport: string[];
}
export declare const ROOMS: Room[];
export declare const KNOWN_EXCEPTIONS: { from: string; to: string; why: string }[];
export declare function allowedImports(type: string): string[];
