/**
 * The SSH side of a managed tunnel: the local identity (the target's stable host key, a fresh client key
 * pair) in the Portcullis home, an SshTunnel whose upstream sign-ins the hub signs, and the target's
 * block in the ssh_config include file so that `ssh TARGET` finds it.
 */
import type { OpenedSession, SshConnectionMaterial, TargetEntitlement } from '../../hub/api/types.ts';
import type { HubClient } from '../hub-client/index.ts';
import type { Approver } from '../policy/approver.ts';
import type { Policy } from '../policy/policy.ts';
import { parsePublicKey } from '../ssh/keys.ts';
import { prepareLocalIdentity, writeConfigBlock, type SshPaths } from '../ssh/local-identity.ts';
import { SshTunnel, type SshEndpoint } from '../ssh/ssh-tunnel.ts';
import { hubSigner } from './hub-signer.ts';
import type { TunnelRecording } from './tunnel-recording.ts';

export interface SshTargetTunnelOptions {
  target: TargetEntitlement;
  opened: OpenedSession & { connection: SshConnectionMaterial };
  hub: HubClient;
  paths: SshPaths;
  policy: Policy;
  approver: Approver;
  recording: TunnelRecording;
  host: string;
  port: number;
  password?: string;
  admit(): Promise<void>;
  log(message: string): void;
}

export class SshTargetTunnel {
  private tunnel: SshTunnel | undefined;
  private endpointValue: SshEndpoint | undefined;

  constructor(private readonly options: SshTargetTunnelOptions) {}

  get endpoint(): SshEndpoint {
    if (!this.endpointValue) throw new Error('the tunnel is not listening');
    return this.endpointValue;
  }

  async listen(): Promise<SshEndpoint> {
    const { target, opened, hub, recording, paths } = this.options;
    const material = opened.connection;
    const identity = await prepareLocalIdentity(paths, target.id);
    this.tunnel = new SshTunnel({
      targetId: target.id,
      targetName: target.name,
      upstream: {
        host: material.host,
        port: material.port,
        user: material.user,
        hostKeys: material.hostKeys.map(parsePublicKey),
      },
      signerFor: (connectionId) =>
        hubSigner({
          hub,
          sessionId: opened.sessionId,
          publicKey: material.publicKey,
          purpose: 'client',
          connection: () => recording.connectionNumber(connectionId),
        }),
      identity,
      policy: this.options.policy,
      sessionId: opened.sessionId,
      approver: this.options.approver,
      recorder: recording,
      host: this.options.host,
      port: this.options.port,
      ...(this.options.password ? { password: this.options.password } : {}),
      admit: () => this.options.admit(),
      log: (message) => this.options.log(message),
    });
    const endpoint = await this.tunnel.listen();
    await writeConfigBlock(paths, target.id, endpoint.sshConfig);
    this.endpointValue = { ...endpoint, includeFile: paths.config };
    return this.endpointValue;
  }

  close(reason?: string): Promise<void> {
    return this.tunnel?.close(reason) ?? Promise.resolve();
  }

  /** Client connections open now. */
  get sessionCount(): number {
    return this.traffic().connections;
  }

  traffic(): { connections: number; bytesFromClient: number; bytesToClient: number } {
    return this.tunnel?.traffic() ?? { connections: 0, bytesFromClient: 0, bytesToClient: 0 };
  }
}
