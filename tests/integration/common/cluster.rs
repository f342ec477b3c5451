//! A PostgreSQL server of one test's own, which the test stops and starts.
//!
//! The shared test cluster (`EMBARGO_TEST_POSTGRES`) serves every other
//! test at once, so a test about the server going away gets its own:
//! `initdb` in a temp folder owned by the `postgres` OS user (the server
//! refuses to run as root; the suite runs as root, as CI does), listening
//! on 127.0.0.1 on a free port with trust authentication. Dropping it
//! stops the server and removes the folder.

use std::path::PathBuf;
use std::process::Command;

use tempfile::TempDir;

use super::store::psql;

/// One test's PostgreSQL server.
pub struct Cluster {
    dir: TempDir,
    bin: PathBuf,
    port: u16,
}

impl Cluster {
    /// A new cluster, initialised but not started.
    pub fn init() -> Self {
        let bin = std::fs::read_dir("/usr/lib/postgresql")
            .expect("PostgreSQL is installed under /usr/lib/postgresql")
            .map(|entry| entry.expect("entry").path().join("bin"))
            .filter(|bin| bin.join("initdb").exists())
            .max()
            .expect("an initdb under /usr/lib/postgresql/*/bin");
        let dir = tempfile::tempdir().expect("temp dir");
        let chmod = Command::new("chmod")
            .arg("755")
            .arg(dir.path())
            .status()
            .expect("chmod");
        assert!(chmod.success());
        for sub in ["data", "socket"] {
            std::fs::create_dir(dir.path().join(sub)).expect("mkdir");
        }
        let chown = Command::new("chown")
            .args(["-R", "postgres:postgres"])
            .arg(dir.path())
            .status()
            .expect("chown");
        assert!(
            chown.success(),
            "chown to postgres (the suite runs as root)"
        );
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .and_then(|listener| listener.local_addr())
            .expect("a free port")
            .port();
        let cluster = Self { dir, bin, port };
        let out = cluster
            .as_postgres("initdb")
            .arg("-D")
            .arg(cluster.dir.path().join("data"))
            .args([
                "-U",
                "postgres",
                "--auth=trust",
                "--encoding=UTF8",
                "--locale=C.UTF-8",
            ])
            .output()
            .expect("run initdb");
        assert!(
            out.status.success(),
            "initdb: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        cluster
    }

    fn as_postgres(&self, tool: &str) -> Command {
        let mut command = Command::new("runuser");
        // The postgres user may not enter the test's working folder.
        command
            .current_dir(self.dir.path())
            .args(["-u", "postgres", "--"])
            .arg(self.bin.join(tool));
        command
    }

    /// Starts the server and waits until it accepts connections.
    pub fn start(&self) {
        let options = format!(
            "-c listen_addresses=127.0.0.1 -c port={} -c unix_socket_directories={} -c fsync=on",
            self.port,
            self.dir.path().join("socket").display()
        );
        let out = self
            .as_postgres("pg_ctl")
            .arg("-D")
            .arg(self.dir.path().join("data"))
            .arg("-l")
            .arg(self.dir.path().join("server.log"))
            .args(["-w", "-o", &options, "start"])
            .output()
            .expect("run pg_ctl start");
        assert!(
            out.status.success(),
            "pg_ctl start: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    }

    /// Stops the server at once (open connections are cut, as when a
    /// server goes away) and waits until it is down.
    pub fn stop(&self) {
        let _ = self
            .as_postgres("pg_ctl")
            .arg("-D")
            .arg(self.dir.path().join("data"))
            .args(["-m", "fast", "-w", "stop"])
            .output();
    }

    /// The URL of database `name` on this server.
    pub fn url(&self, name: &str) -> String {
        format!("postgres://postgres@127.0.0.1:{}/{name}", self.port)
    }

    /// Creates database `name` (the server must be running).
    pub fn create_database(&self, name: &str) {
        psql(&self.url("postgres"), &format!("CREATE DATABASE {name}"));
    }
}

impl Drop for Cluster {
    fn drop(&mut self) {
        self.stop();
    }
}
