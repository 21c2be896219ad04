/** Why the demo cannot start, said for people: the CLI prints the message as it is. */
export class DemoError extends Error {
  override name = 'DemoError';
}

/** The data directory cannot be used (someone else's files, or out of the postgres user's reach). */
export class DemoDataDirError extends DemoError {
  override name = 'DemoDataDirError';
}

export type DemoService = 'hub' | 'idp' | 'postgres' | 'ssh' | 'relay';

/** A fixed port the demo needs is taken (most often by a demo that is already running). */
export class DemoPortInUseError extends DemoError {
  override name = 'DemoPortInUseError';
  constructor(
    readonly service: DemoService,
    readonly port: number,
  ) {
    const names: Record<DemoService, string> = {
      hub: 'hub',
      idp: 'identity provider',
      postgres: 'postgres',
      ssh: 'SSH server',
      relay: 'relay',
    };
    super(`port ${port} (the demo ${names[service]}) is in use`);
  }
}
