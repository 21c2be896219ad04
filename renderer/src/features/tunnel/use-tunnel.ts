/** One open tunnel: its connection fields (copied by main, with the real secret), port, secret, closing. */
import { useState } from 'react';
import type { ConnectionField } from '../../../../preload/api.ts';
import { api, unwrap } from '../../app/api.ts';
import { go } from '../../app/router.ts';
import { useAction } from '../../app/use-action.ts';

/** What an open tunnel's parts read and do. */
export type Tunnel = ReturnType<typeof useTunnel>;

export function useTunnel(targetId: string) {
  const [secret, setSecret] = useState<string | null>(null);
  const copy = (field: ConnectionField): Promise<void> =>
    unwrap(api().tunnels.copy(targetId, field)).then(() => undefined);
  const reveal = useAction(async () => setSecret(await unwrap(api().tunnels.revealSecret(targetId))));
  const hide = (): void => setSecret(null);
  const setPort = useAction(async (port: number) => {
    await unwrap(api().tunnels.setPort(targetId, port));
    setSecret(null);
  });
  const disconnect = useAction(async () => {
    await unwrap(api().tunnels.disconnect(targetId));
    go({ screen: 'targets' });
  });
  const reconnect = useAction(async () => unwrap(api().tunnels.connect(targetId)));
  return { copy, secret, reveal, hide, setPort, disconnect, reconnect };
}
