/** Types of function-length.mjs (plain JavaScript, so eslint.config.js can import it without a build). */
export const MAX_FUNCTION_LINES: number;
export const FUNCTION_LENGTH_OPTIONS: { skipBlankLines: boolean; skipComments: boolean; IIFEs: boolean };
export const UNCOUNTED: string[];
export const LONGER_TODAY: { file: string; max: number }[];
