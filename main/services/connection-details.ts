/**
 * How a client reaches a tunnel, ready to paste: a psql command, a libpq URI, a JDBC URL, and the fields
 * DBeaver and DataGrip ask for. Shown with the password masked; copied with the real one.
 */
import type { ConnectionField, ConnectionView } from '../../preload/api.ts';
import type { TunnelEndpoint } from '../../tunnel/postgres/tunnel.ts';

export const MASK = '••••••••';

export function connectionDetails(endpoint: TunnelEndpoint, reveal: boolean): ConnectionView {
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

export function connectionField(endpoint: TunnelEndpoint, field: ConnectionField): string {
  return String(connectionDetails(endpoint, true)[field]);
}
