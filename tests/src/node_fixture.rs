//! The Node programs some tests start beside the server (tests/oidc: an OpenID Connect
//! provider; tests/s3: an S3-compatible server): each is `npm ci`'d in its own folder,
//! prints `ready <address>` once it listens, and is killed when the test drops it.

use std::io::{BufRead, BufReader};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};

/// A fixture's folder under `tests/`.
pub fn fixture_dir(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join(name)
}

/// Whether fixture `name` is installed (its `node_modules/<package>`). When `required_by` is
/// set in the environment (`.ci/run` sets it after `npm ci`), its absence fails the test
/// instead of skipping it.
pub fn installed(name: &str, package: &str, required_by: &str) -> bool {
    let present = fixture_dir(name)
        .join("node_modules")
        .join(package)
        .exists();
    if !present {
        assert!(
            std::env::var(required_by).is_err(),
            "{required_by} is set but tests/{name} has no node_modules (npm ci --prefix tests/{name})"
        );
        eprintln!("skipped: run `npm ci --prefix tests/{name}` to install {package}");
    }
    present
}

/// A free TCP port on 127.0.0.1.
pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|listener| listener.local_addr())
        .expect("a free port")
        .port()
}

/// A running fixture, and the address it printed.
pub struct NodeFixture {
    child: Child,
    pub address: String,
}

impl NodeFixture {
    /// Runs `node <script>` in fixture `name` with `env`, and waits for its `ready` line.
    pub fn start(name: &str, script: &str, env: &[(&str, String)]) -> NodeFixture {
        let mut command = Command::new("node");
        command
            .arg(script)
            .current_dir(fixture_dir(name))
            .stdout(Stdio::piped())
            .stderr(Stdio::null());
        for (key, value) in env {
            command.env(key, value);
        }
        let mut child = command
            .spawn()
            .unwrap_or_else(|error| panic!("start node tests/{name}/{script}: {error}"));
        let stdout = child.stdout.take().expect("its stdout");
        let mut reader = BufReader::new(stdout);
        let mut line = String::new();
        reader
            .read_line(&mut line)
            .expect("read the fixture's first line");
        // Keep reading what it prints: a closed pipe would end it at its next line.
        std::thread::spawn(move || {
            let mut sink = String::new();
            while reader.read_line(&mut sink).is_ok_and(|n| n > 0) {
                sink.clear();
            }
        });
        let address = line
            .trim()
            .strip_prefix("ready ")
            .unwrap_or_else(|| panic!("tests/{name}/{script} did not start: {line:?}"))
            .to_string();
        NodeFixture { child, address }
    }
}

impl Drop for NodeFixture {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
