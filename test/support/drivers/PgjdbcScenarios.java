// Client-fidelity scenarios driven by pgjdbc, one JSON line per scenario.
//
// Run as a single-file program: java -cp postgresql.jar PgjdbcScenarios.java HOST PORT USER PASSWORD
// DBNAME SSLROOTCERT SCENARIO... Each line printed is {"scenario": name, "ok": bool, "detail": str}.

import java.io.StringReader;
import java.io.StringWriter;
import java.sql.BatchUpdateException;
import java.sql.Connection;
import java.sql.DriverManager;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.sql.Statement;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Properties;
import org.postgresql.PGConnection;
import org.postgresql.PGNotification;
import org.postgresql.copy.CopyManager;
import org.postgresql.jdbc.PgStatement;
import org.postgresql.util.PSQLException;

public class PgjdbcScenarios {
  private static String host, port, user, password, dbname, sslrootcert;

  private record Outcome(boolean ok, String detail) {}

  public static void main(String[] args) {
    host = args[0];
    port = args[1];
    user = args[2];
    password = args[3];
    dbname = args[4];
    sslrootcert = args[5];
    for (String name : Arrays.copyOfRange(args, 6, args.length)) {
      Outcome outcome;
      try {
        outcome = run(name);
      } catch (Exception error) {
        outcome = new Outcome(false, error.getClass().getSimpleName() + ": " + error.getMessage());
      }
      System.out.println(
          "{\"scenario\": " + json(name) + ", \"ok\": " + outcome.ok() + ", \"detail\": " + json(outcome.detail()) + "}");
      System.out.flush();
    }
  }

  private static Outcome run(String name) throws Exception {
    return switch (name) {
      case "connect-options" -> connectOptions();
      case "current-schema" -> currentSchema();
      case "cancel" -> cancel();
      case "notifications" -> notifications();
      case "terminate" -> terminate();
      case "pipeline" -> pipeline();
      case "cursors" -> cursors();
      case "copy" -> copy();
      case "binary" -> binary();
      case "tls-require" -> tls("require");
      case "tls-verify-full" -> tls("verify-full");
      case "syntax-error" -> syntaxError();
      default -> throw new IllegalArgumentException("no scenario " + name);
    };
  }

  private static Connection connect(Properties extra) throws SQLException {
    Properties props = new Properties();
    props.setProperty("user", user);
    props.setProperty("password", password);
    props.setProperty("sslmode", "disable");
    props.setProperty("connectTimeout", "10");
    props.putAll(extra);
    return DriverManager.getConnection("jdbc:postgresql://" + host + ":" + port + "/" + dbname, props);
  }

  private static Connection connect() throws SQLException {
    return connect(new Properties());
  }

  private static String scalar(Connection conn, String sql) throws SQLException {
    try (Statement stmt = conn.createStatement(); ResultSet rs = stmt.executeQuery(sql)) {
      rs.next();
      return rs.getString(1);
    }
  }

  private static Outcome connectOptions() throws SQLException {
    Properties props = new Properties();
    props.setProperty(
        "options", "-c statement_timeout=4321 -c default_transaction_isolation=serializable -c some.var=tenant\\ 42");
    props.setProperty("ApplicationName", "pgjdbc-compat");
    try (Connection conn = connect(props)) {
      List<String> got =
          List.of(
              scalar(conn, "SHOW statement_timeout"),
              scalar(conn, "SHOW default_transaction_isolation"),
              scalar(conn, "SELECT current_setting('some.var')"),
              scalar(conn, "SHOW application_name"));
      return new Outcome(got.equals(List.of("4321ms", "serializable", "tenant 42", "pgjdbc-compat")), "got " + got);
    }
  }

  /** JDBC's currentSchema is sent as a search_path startup parameter. */
  private static Outcome currentSchema() {
    Properties props = new Properties();
    props.setProperty("currentSchema", "public");
    try (Connection conn = connect(props)) {
      String path = scalar(conn, "SHOW search_path");
      return new Outcome(path.equals("public"), "search_path " + path);
    } catch (SQLException error) {
      return new Outcome(false, error.getSQLState() + ": " + error.getMessage());
    }
  }

  /** StatementTest.testShortQueryTimeout: a timed-out statement's cancel must never hit the next one. */
  private static Outcome cancel() throws Exception {
    try (Connection conn = connect()) {
      Statement sleeper = conn.createStatement();
      Thread canceller =
          new Thread(
              () -> {
                try {
                  Thread.sleep(500);
                  sleeper.cancel();
                } catch (Exception ignored) {
                  // reported through the statement's outcome
                }
              });
      canceller.start();
      String running;
      try {
        sleeper.executeQuery("SELECT pg_sleep(10)");
        running = "ran to its end";
      } catch (SQLException error) {
        running = error.getSQLState();
      }
      canceller.join();
      Statement timed = conn.createStatement();
      ((PgStatement) timed).setQueryTimeoutMs(1);
      Statement other = conn.createStatement();
      long deadline = System.currentTimeMillis() + 3000;
      int rounds = 0;
      int hit = 0;
      while (System.currentTimeMillis() < deadline) {
        rounds++;
        try {
          timed.executeQuery("SELECT 1");
        } catch (SQLException error) {
          if (!"57014".equals(error.getSQLState())) throw error;
        }
        try {
          other.executeQuery("SELECT 1");
        } catch (SQLException error) {
          hit++;
        }
      }
      boolean ok = "57014".equals(running) && hit == 0;
      return new Outcome(
          ok, "running statement: " + running + "; " + hit + " of " + rounds + " statements after a timeout failed");
    }
  }

  private static Outcome notifications() throws SQLException {
    try (Connection conn = connect()) {
      PGConnection pg = conn.unwrap(PGConnection.class);
      try (Statement stmt = conn.createStatement()) {
        stmt.execute("LISTEN compat_channel");
        stmt.execute("NOTIFY compat_channel, 'mine'");
      }
      PGNotification[] received = pg.getNotifications(5000);
      int pid = pg.getBackendPID();
      int serverPid = Integer.parseInt(scalar(conn, "SELECT pg_backend_pid()"));
      boolean ok = received != null && received.length == 1 && received[0].getPID() == pid && pid == serverPid;
      String notified = received == null || received.length == 0 ? "none" : String.valueOf(received[0].getPID());
      return new Outcome(ok, "notification pid " + notified + ", backend pid " + pid + ", pg_backend_pid() " + serverPid);
    }
  }

  private static Outcome terminate() throws SQLException {
    Connection victim = connect();
    int pid = victim.unwrap(PGConnection.class).getBackendPID();
    String done;
    try (Connection killer = connect()) {
      done = scalar(killer, "SELECT pg_terminate_backend(" + pid + ")");
    }
    String raised;
    try {
      scalar(victim, "SELECT 1");
      raised = "none";
    } catch (SQLException error) {
      raised = error.getSQLState();
    }
    victim.close();
    return new Outcome("t".equals(done) && "57P01".equals(raised), "terminated " + done + ", error " + raised);
  }

  /** A batch goes to the server as one pipeline: Parse/Bind/Execute for each, one Sync. */
  private static Outcome pipeline() throws SQLException {
    try (Connection conn = connect(); Statement stmt = conn.createStatement()) {
      stmt.execute("CREATE TEMP TABLE compat_batch (i int PRIMARY KEY)");
      try (PreparedStatement insert = conn.prepareStatement("INSERT INTO compat_batch VALUES (?)")) {
        for (int i : new int[] {1, 2, 2, 3}) {
          insert.setInt(1, i);
          insert.addBatch();
        }
        insert.executeBatch();
        return new Outcome(false, "the duplicate key went unnoticed");
      } catch (BatchUpdateException error) {
        String count = scalar(conn, "SELECT count(*) FROM compat_batch");
        boolean ok = "23505".equals(error.getSQLState()) && "0".equals(count);
        return new Outcome(ok, "batch failed with " + error.getSQLState() + ", rows kept " + count);
      }
    }
  }

  /** With a fetch size outside autocommit the rows come in portal-suspended slices. */
  private static Outcome cursors() throws SQLException {
    try (Connection conn = connect()) {
      conn.setAutoCommit(false);
      List<Integer> values = new ArrayList<>();
      try (Statement stmt = conn.createStatement()) {
        stmt.setFetchSize(7);
        try (ResultSet rs = stmt.executeQuery("SELECT g FROM generate_series(1, 100) g")) {
          while (rs.next()) values.add(rs.getInt(1));
        }
      }
      conn.commit();
      boolean ok = values.size() == 100 && values.get(0) == 1 && values.get(99) == 100;
      return new Outcome(ok, values.size() + " rows");
    }
  }

  private static Outcome copy() throws Exception {
    try (Connection conn = connect(); Statement stmt = conn.createStatement()) {
      stmt.execute("CREATE TEMP TABLE compat_copy (id int, note text)");
      StringBuilder lines = new StringBuilder();
      for (int i = 0; i < 1000; i++) lines.append(i).append("\tnote ").append(i).append('\n');
      CopyManager copy = conn.unwrap(PGConnection.class).getCopyAPI();
      long in = copy.copyIn("COPY compat_copy FROM STDIN", new StringReader(lines.toString()));
      StringWriter out = new StringWriter();
      copy.copyOut("COPY (SELECT id, note FROM compat_copy ORDER BY id) TO STDOUT", out);
      boolean ok = in == 1000 && out.toString().equals(lines.toString());
      return new Outcome(ok, in + " rows in, " + out.toString().length() + " characters out");
    }
  }

  private static Outcome binary() throws SQLException {
    byte[] data = new byte[256];
    for (int i = 0; i < 256; i++) data[i] = (byte) i;
    Properties props = new Properties();
    props.setProperty("prepareThreshold", "-1"); // binary transfer from the first execution
    try (Connection conn = connect(props);
        PreparedStatement stmt = conn.prepareStatement("SELECT ?::bytea, 42::int4, 'x'::text")) {
      stmt.setBytes(1, data);
      try (ResultSet rs = stmt.executeQuery()) {
        rs.next();
        boolean ok = Arrays.equals(rs.getBytes(1), data) && rs.getInt(2) == 42 && "x".equals(rs.getString(3));
        return new Outcome(ok, ok ? "bytes, int4 and text intact" : "values differ");
      }
    }
  }

  private static Outcome tls(String sslmode) throws SQLException {
    Properties props = new Properties();
    props.setProperty("sslmode", sslmode);
    if (sslmode.equals("verify-full")) props.setProperty("sslrootcert", sslrootcert);
    try (Connection conn = connect(props)) {
      return new Outcome("1".equals(scalar(conn, "SELECT 1")), "connected with sslmode=" + sslmode);
    }
  }

  private static Outcome syntaxError() throws SQLException {
    try (Connection conn = connect(); Statement stmt = conn.createStatement()) {
      stmt.executeQuery("SELECT 1 FROM WHERE");
      return new Outcome(false, "no error");
    } catch (PSQLException error) {
      var server = error.getServerErrorMessage();
      int position = server == null ? -1 : server.getPosition();
      boolean ok = "42601".equals(error.getSQLState()) && position == 15;
      return new Outcome(ok, error.getSQLState() + " at position " + position + ": " + (server == null ? "" : server.getMessage()));
    }
  }

  private static String json(String value) {
    StringBuilder out = new StringBuilder("\"");
    for (char c : value.toCharArray()) {
      switch (c) {
        case '"' -> out.append("\\\"");
        case '\\' -> out.append("\\\\");
        case '\n' -> out.append("\\n");
        case '\r' -> out.append("\\r");
        case '\t' -> out.append("\\t");
        default -> {
          if (c < 0x20) out.append(String.format("\\u%04x", (int) c));
          else out.append(c);
        }
      }
    }
    return out.append('"').toString();
  }
}
