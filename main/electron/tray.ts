/** The tray icon and its menu, rebuilt from the services' TrayModel whenever it changes. */
import { app, Menu, Tray as ElectronTrayIcon, nativeImage } from 'electron';
import type { Tray, TrayAction, TrayModel } from '../services/ports.ts';

export class ElectronTray implements Tray {
  private readonly icon: ElectronTrayIcon;

  constructor(
    iconPath: string,
    private readonly onAction: (action: TrayAction) => void,
  ) {
    this.icon = new ElectronTrayIcon(nativeImage.createFromPath(iconPath).resize({ width: 16, height: 16 }));
    this.icon.on('click', () => onAction({ kind: 'open' }));
  }

  update(model: TrayModel): void {
    this.icon.setToolTip(model.tooltip);
    this.icon.setContextMenu(
      Menu.buildFromTemplate(
        model.items.map((item) => {
          const { action } = item;
          return {
            label: item.label,
            enabled: item.enabled ?? action !== undefined,
            ...(action ? { click: () => this.onAction(action) } : {}),
          };
        }),
      ),
    );
    // The dock (macOS) and the launcher (Unity) show what waits for a decision.
    app.setBadgeCount(model.badge);
  }

  destroy(): void {
    this.icon.destroy();
  }
}
