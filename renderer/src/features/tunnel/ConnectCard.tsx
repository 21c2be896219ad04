import { useEffect, useState } from 'react';
import type { TunnelView } from '../../../../preload/api.ts';
import { CopyField } from '../../components/CopyField.tsx';
import { ErrorText } from '../../components/ListState.tsx';
import type { Tunnel } from './use-tunnel.ts';

/** How to point a tool at an open tunnel: its command, URIs and fields to copy, and its local port. */
export function ConnectCard({ tunnel, t }: { tunnel: TunnelView; t: Tunnel }) {
  const c = tunnel.connection;
  return (
    <section aria-labelledby="connect-heading" className="card">
      <h2 id="connect-heading">Connect your tool</h2>
      <CopyField label="psql command" value={c.psql} onCopy={() => t.copy('psql')} multiline />
      <CopyField label="Connection URI" value={c.uri} onCopy={() => t.copy('uri')} multiline />
      <CopyField label="JDBC URL" value={c.jdbc} onCopy={() => t.copy('jdbc')} multiline />
      <h3>DBeaver and DataGrip</h3>
      <div className="field-grid">
        <CopyField label="Host" value={c.host} onCopy={() => t.copy('host')} />
        <CopyField label="Port" value={String(c.port)} onCopy={() => t.copy('port')} />
        <CopyField label="Database" value={c.database} onCopy={() => t.copy('database')} />
        <CopyField label="User" value={c.user} onCopy={() => t.copy('user')} />
        <CopyField label="Password" value={t.secret ?? c.password} onCopy={() => t.copy('password')} />
      </div>
      <p className="hint">
        SSL off (the tunnel listens on this machine only). The password is this tunnel’s own, not the
        database’s.{' '}
        {t.secret ? (
          <button type="button" className="link" onClick={t.hide}>
            Hide password
          </button>
        ) : (
          <button type="button" className="link" onClick={() => void t.reveal.run()}>
            Show password
          </button>
        )}
      </p>
      <PortForm tunnel={tunnel} t={t} />
    </section>
  );
}

function PortForm({ tunnel, t }: { tunnel: TunnelView; t: Tunnel }) {
  const [port, setPort] = useState(String(tunnel.connection.port));
  useEffect(() => setPort(String(tunnel.connection.port)), [tunnel.connection.port]);
  return (
    <form
      className="inline-form"
      onSubmit={(event) => {
        event.preventDefault();
        void t.setPort.run(Number(port));
      }}
    >
      <label htmlFor="tunnel-port">Local port</label>
      <input
        id="tunnel-port"
        type="number"
        min={1024}
        max={65535}
        required
        value={port}
        onChange={(event) => setPort(event.target.value)}
        aria-describedby="tunnel-port-hint"
      />
      <button type="submit" disabled={t.setPort.busy || Number(port) === tunnel.connection.port}>
        Use this port
      </button>
      <p id="tunnel-port-hint" className="hint">
        Kept for {tunnel.targetId}, so saved connections keep working. Changing it reconnects the tunnel.
      </p>
      <ErrorText message={t.setPort.error} />
    </form>
  );
}
