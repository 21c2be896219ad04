/**
 * How a client reaches a tunnel, ready to paste: a psql command, a libpq URI, a JDBC URL, and the fields
 * DBeaver and DataGrip ask for. Shown with the password masked; copied with the real one.
 */
import type { ConnectionField, ConnectionView } from '../../preload/api.ts';
import type { TunnelEndpoint } from '../../tunnel/postgres/tunnel.ts';
import type { SshEndpoint } from '../../tunnel/ssh/ssh-tunnel.ts';

export const MASK = '••••••••';

/**
 * An SSH tunnel's: the ssh command that needs no ssh_config (in the command slot), its ssh:// URL, and the
 * per-tunnel password for clients that cannot use the key.
 */
function sshDetails(endpoint: SshEndpoint, reveal: boolean): ConnectionView {
  const host = endpoint.host.includes(':') ? `[${endpoint.host}]` : endpoint.host;
  return {
    host: endpoint.host,
    port: endpoint.port,
    user: endpoint.user,
    database: '',
    password: reveal ? endpoint.password : MASK,
    psql:
      `ssh -p ${endpoint.port} -i "${endpoint.identityFile}" -o IdentitiesOnly=yes ` +
      `-o UserKnownHostsFile="${endpoint.knownHostsFile}" -o HostKeyAlias=${endpoint.hostKeyAlias} ${endpoint.user}@${host}`,
    uri: endpoint.url,
    jdbc: '',
  };
}

export function connectionDetails(endpoint: TunnelEndpoint | SshEndpoint, reveal: boolean): ConnectionView {
  if (endpoint.kind === 'ssh') return sshDetails(endpoint, reveal);
  const password = reveal ? endpoint.password : MASK;
  const host = endpoint.host.includes(':') ? `[${endpoint.host}]` : endpoint.host;
  const user = encodeURIComponent(endpoint.user);
  const database = encodeURIComponent(endpoint.database);
  const secret = reveal ? encodeURIComponent(endpoint.password) : MASK;
  const uri = `postgresql://${user}:${secret}@${host}:${endpoint.port}/${database}?sslmode=disable`;
  const jdbcSecret = reveal ? encodeURIComponent(endpoint.password) : MASK;
  return {
    host: endpoint.host,
    port: endpoint.port,
    user: endpoint.user,
    database: endpoint.database,
    password,
    psql: `psql "${uri}"`,
    uri,
    jdbc: `jdbc:postgresql://${host}:${endpoint.port}/${database}?user=${user}&password=${jdbcSecret}&sslmode=disable`,
  };
}

export function connectionField(endpoint: TunnelEndpoint | SshEndpoint, field: ConnectionField): string {
  return String(connectionDetails(endpoint, true)[field]);
}
