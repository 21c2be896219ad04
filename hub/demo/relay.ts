/**
 * shop-admin's relay. The demo starts one on loopback so that the third mode of keeping credentials at the
 * hub can be tried: the user's tunnel only carries shop-admin's connections, over TLS whose certificate it
 * verifies, to the relay, which alone reaches the database and judges, masks, holds and records. The hub's
 * code never imports the tunnel's, so the command that runs the demo hands in the launcher.
 */

/** The relay's own identity at the development IdP: an agent in the hub's `relays` group. */
export const DEMO_RELAY_AGENT_ID = 'shop-relay';
export const DEMO_RELAYS_GROUP = 'relays';

export type { DemoRelayLauncher, DemoRelayStart } from '../api/demo-relay.ts';
