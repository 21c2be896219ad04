/** A mistake in how the command was invoked: reported in one line with exit code 2. */
export class UsageError extends Error {}
