/**
 * A command that ends with a specific exit code scripts can test for, and one line saying why. See
 * ExitCode in cli.ts for the codes.
 */
export class CommandFailure extends Error {
  override name = 'CommandFailure';
  constructor(
    message: string,
    readonly exitCode: number,
  ) {
    super(message);
  }
}
