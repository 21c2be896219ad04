"""Client-fidelity scenarios driven by psycopg 3 (over libpq), one JSON line per scenario.

Usage: python3 psycopg_scenarios.py '<json>' where the JSON names the target (host, port, user,
password, dbname, sslrootcert) and the scenarios to run. Each line printed is
{"scenario": name, "ok": bool, "detail": str}; "skip": reason when the driver cannot do it.
"""

import json
import sys
import threading
import time

import psycopg
from psycopg import errors, pq


def connect(target, **extra):
    params = {
        "host": target["host"],
        "port": target["port"],
        "user": target["user"],
        "password": target["password"],
        "dbname": target["dbname"],
        "sslmode": "disable",
        "connect_timeout": 10,
    }
    params.update(extra)
    return psycopg.connect(autocommit=True, **params)


def scalar(conn, sql, *args):
    return conn.execute(sql, args or None).fetchone()[0]


def connect_options(target):
    with connect(
        target,
        options="-c statement_timeout=4321 -c default_transaction_isolation=serializable -c some.var=tenant\\ 42",
        application_name="psycopg-compat",
    ) as conn:
        got = (
            scalar(conn, "SHOW statement_timeout"),
            scalar(conn, "SHOW default_transaction_isolation"),
            scalar(conn, "SELECT current_setting('some.var')"),
            scalar(conn, "SHOW application_name"),
        )
    expected = ("4321ms", "serializable", "tenant 42", "psycopg-compat")
    return got == expected, f"got {got}"


def cancel(target):
    with connect(target) as conn:
        # A running statement is cancelled ...
        def cancel_soon():
            time.sleep(0.5)
            conn.cancel()

        threading.Thread(target=cancel_soon).start()
        try:
            conn.execute("SELECT pg_sleep(10)")
            return False, "pg_sleep ran to its end"
        except errors.QueryCanceled:
            pass
        # ... and a cancel sent while idle (PQcancel waits for the server) never hits the next one.
        wrong = 0
        for _ in range(30):
            conn.cancel()
            try:
                conn.execute("SELECT pg_sleep(0.01)")
            except errors.QueryCanceled:
                wrong += 1
    return wrong == 0, f"{wrong} of 30 statements after an idle cancel were cancelled"


def notifications(target):
    received = []
    with connect(target) as conn:
        conn.add_notify_handler(received.append)
        conn.execute("LISTEN compat_channel")
        conn.execute("NOTIFY compat_channel, 'mine'")
        pid = conn.info.backend_pid
        server_pid = scalar(conn, "SELECT pg_backend_pid()")
    got = received[0].pid if received else None
    ok = got == pid == server_pid
    return ok, f"notification pid {got}, backend_pid {pid}, pg_backend_pid() {server_pid}"


def current_schema(target):
    """libpq has no currentSchema: the schema comes as a search_path in options."""
    try:
        with connect(target, options="-c search_path=public") as conn:
            path = scalar(conn, "SHOW search_path")
    except psycopg.Error as error:
        return False, f"{error.sqlstate}: {error}"
    return path == "public", f"search_path {path}"


def terminate(target):
    victim = connect(target)
    with connect(target) as killer:
        done = scalar(killer, "SELECT pg_terminate_backend(%s)", victim.info.backend_pid)
    raised = []
    try:
        victim.execute("SELECT 1")
    except psycopg.Error as error:
        raised.append(error.sqlstate or type(error).__name__)
    victim.close()
    return done is True and len(raised) == 1, f"terminated {done}, errors {raised}"


def pipeline(target):
    if pq.version() < 140000:
        return None, "libpq older than 14 has no pipeline mode"
    with connect(target) as conn:
        results = []
        with conn.pipeline() as p:
            first = conn.execute("SELECT 1")
            try:
                conn.execute("SELECT 1/0")
                p.sync()
            except errors.DivisionByZero:
                results.append("22012")
            third = conn.execute("SELECT 3")
        results = [first.fetchone()[0], *results, third.fetchone()[0]]
    return results == [1, "22012", 3], f"got {results}"


def cursors(target):
    with connect(target) as conn:
        with conn.transaction():
            with conn.cursor(name="compat_cursor") as cur:
                cur.itersize = 7
                cur.execute("SELECT g FROM generate_series(1, 100) g")
                first = cur.fetchmany(10)
                rest = cur.fetchall()
    values = [r[0] for r in first + rest]
    return values == list(range(1, 101)), f"got {len(values)} rows"


def copy(target):
    rows = [(i, f"note {i}") for i in range(1000)]
    with connect(target) as conn:
        conn.execute("CREATE TEMP TABLE compat_copy (id int, note text)")
        with conn.cursor().copy("COPY compat_copy FROM STDIN") as copy_in:
            for row in rows:
                copy_in.write_row(row)
        out = []
        with conn.cursor().copy("COPY (SELECT id, note FROM compat_copy ORDER BY id) TO STDOUT") as copy_out:
            for row in copy_out.rows():
                out.append((int(row[0]), row[1]))
    return out == rows, f"{len(out)} rows back"


def binary(target):
    data = bytes(range(256))
    with connect(target) as conn:
        cur = conn.cursor(binary=True)
        cur.execute("SELECT %b::bytea, 42::int4, 'x'::text", (data,))
        got = cur.fetchone()
    return got == (data, 42, "x"), f"got {got[1:]}, {len(got[0])} bytes"


def tls_require(target):
    with connect(target, sslmode="require") as conn:
        ok = conn.pgconn.ssl_in_use and scalar(conn, "SELECT 1") == 1
    return ok, "TLS in use" if ok else "no TLS"


def tls_verify_full(target):
    with connect(target, sslmode="verify-full", sslrootcert=target["sslrootcert"]) as conn:
        ok = conn.pgconn.ssl_in_use and scalar(conn, "SELECT 1") == 1
    return ok, "verified TLS in use" if ok else "no TLS"


def syntax_error(target):
    with connect(target) as conn:
        try:
            conn.execute("SELECT 1 FROM WHERE")
            return False, "no error"
        except errors.SyntaxError as error:
            got = (error.sqlstate, error.diag.statement_position, error.diag.message_primary)
    return got == ("42601", "15", 'syntax error at or near "WHERE"'), f"got {got}"


SCENARIOS = {
    "connect-options": connect_options,
    "current-schema": current_schema,
    "cancel": cancel,
    "notifications": notifications,
    "terminate": terminate,
    "pipeline": pipeline,
    "cursors": cursors,
    "copy": copy,
    "binary": binary,
    "tls-require": tls_require,
    "tls-verify-full": tls_verify_full,
    "syntax-error": syntax_error,
}


def main():
    request = json.loads(sys.argv[1])
    target = request["target"]
    for name in request["scenarios"]:
        try:
            ok, detail = SCENARIOS[name](target)
            line = {"scenario": name, "ok": bool(ok), "detail": detail}
            if ok is None:
                line = {"scenario": name, "skip": detail}
        except Exception as error:  # a failure of the scenario, reported, not raised
            line = {"scenario": name, "ok": False, "detail": f"{type(error).__name__}: {error}"}
        print(json.dumps(line), flush=True)


if __name__ == "__main__":
    main()
