/** What the tray shows, from the app's state: live tunnels with their ports, what waits, Open, Quit. */
import type { AppState } from '../../preload/api.ts';
import type { TrayMenuItem, TrayModel } from './ports.ts';

export function trayModel(state: AppState): TrayModel {
  const open = state.tunnels.filter((t) => t.state === 'open');
  const waiting = state.approvals.waiting.length;
  const items: TrayMenuItem[] = [];
  if (state.account.state === 'signed-in') {
    items.push({ label: `Signed in as ${state.account.me.name}` });
  } else {
    items.push({ label: 'Not signed in' });
  }
  if (state.hub.status === 'unreachable') items.push({ label: 'Hub unreachable' });
  if (open.length === 0) items.push({ label: 'No tunnels open' });
  for (const tunnel of open) {
    items.push({
      label: `${tunnel.targetId} — ${tunnel.connection.host}:${tunnel.connection.port}`,
      action: { kind: 'navigate', to: { screen: 'tunnel', targetId: tunnel.targetId } },
    });
    items.push({
      label: `Disconnect ${tunnel.targetId}`,
      action: { kind: 'disconnect', targetId: tunnel.targetId },
    });
  }
  items.push({
    label: waiting === 0 ? 'Nothing waits for your approval' : `${waiting} waiting for your approval`,
    action: { kind: 'navigate', to: { screen: 'approvals' } },
    enabled: waiting > 0,
  });
  items.push({ label: 'Open Portcullis', action: { kind: 'open' } });
  items.push({ label: 'Quit', action: { kind: 'quit' } });
  const tunnels = open.length === 1 ? '1 tunnel' : `${open.length} tunnels`;
  return {
    tooltip: `Portcullis — ${tunnels} open${waiting > 0 ? `, ${waiting} waiting for you` : ''}`,
    badge: waiting,
    items,
  };
}
