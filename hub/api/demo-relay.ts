/**
 * What the demo hands the relay it starts for shop-admin, and what it gets back: the contract between the
 * demo (hub/demo/relay.ts) and the relay launcher the CLI wires in (tunnel/relay/demo-relay.ts), which
 * may not import each other. Types only.
 */
export interface DemoRelayStart {
  hubUrl: string;
  issuer: string;
  host: string;
  port: number;
  /** The relay's folder in the data directory (0700): its certificates and recording spool. */
  dir: string;
  agent: { clientId: string; clientSecret: string };
  log: (line: string) => void;
}

export interface DemoRelayLauncher {
  /**
   * The relay's TLS material in `dir`: a certificate authority made on the first start and kept (its key
   * 0600, like the IdP's keys), and a certificate for 127.0.0.1 signed by it at each start. Returns the
   * authority's file, which the hub hands to tunnels as the relay's `sslrootcert`.
   */
  prepare(dir: string): Promise<{ caFile: string }>;
  start(options: DemoRelayStart): Promise<{ stop(): Promise<unknown> }>;
}
