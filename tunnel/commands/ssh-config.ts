/**
 * `portcullis ssh-config [TARGET…] [--include]`: the ssh_config blocks `connect` keeps for SSH targets, so
 * that `ssh TARGET` (and scp, sftp, rsync -e ssh, Ansible, VS Code Remote-SSH) goes through the tunnel.
 *
 *   portcullis ssh-config >> ~/.ssh/config           # the blocks themselves
 *   portcullis ssh-config --include >> ~/.ssh/config # one Include line that follows every later connect
 *
 * Each block names the target's stable port, the tunnel's key and known_hosts; the port and key files stay
 * the same from one `connect` to the next, so a saved configuration keeps working.
 */
import { Command } from 'commander';
import { readConfigBlocks, sshPaths } from '../ssh/local-identity.ts';
import { contextFor } from './output.ts';
import { UsageError } from './usage-error.ts';

async function sshConfig(targets: string[], options: { include?: boolean }): Promise<void> {
  const { paths, out } = contextFor({});
  const ssh = sshPaths(paths.directory);
  if (options.include) {
    process.stdout.write(`Include "${ssh.config}"\n`);
    out.note(`ssh then finds every SSH target \`portcullis connect\` has opened (${ssh.config})`);
    return;
  }
  const blocks = await readConfigBlocks(ssh);
  if (blocks.size === 0) {
    throw new UsageError('no SSH target has a tunnel here yet; run `portcullis connect TARGET` first');
  }
  const unknown = targets.filter((target) => !blocks.has(target));
  if (unknown.length > 0) {
    throw new UsageError(
      `no ssh_config block for ${unknown.join(', ')} (known: ${[...blocks.keys()].join(', ')})`,
    );
  }
  const chosen = targets.length > 0 ? targets.map((target) => blocks.get(target)!) : [...blocks.values()];
  process.stdout.write(`${chosen.join('\n')}`);
}

export function sshConfigCommand(): Command {
  return new Command('ssh-config')
    .description(
      'Print the ssh_config blocks of your SSH targets (or, with --include, the Include line for ~/.ssh/config), so ssh, scp, sftp and VS Code Remote-SSH reach them through the tunnel.',
    )
    .argument('[targets...]', 'only these targets')
    .option('--include', 'print an Include line for ~/.ssh/config instead of the blocks')
    .action((targets: string[], options: { include?: boolean }) => sshConfig(targets, options));
}
