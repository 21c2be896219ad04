/**
 * shop-admin's relay. The demo starts one on loopback so that the third mode of keeping credentials at the
 * hub can be tried: the user's tunnel only carries shop-admin's connections, over TLS whose certificate it
 * verifies, to the relay, which alone reaches the database and judges, masks, holds and records. The hub's
 * code never imports the tunnel's, so the command that runs the demo hands in the launcher.
 */

/** The relay's own identity at the development IdP: an agent in the hub's `relays` group. */
export const DEMO_RELAY_AGENT_ID = 'shop-relay';
export const DEMO_RELAYS_GROUP = 'relays';

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
