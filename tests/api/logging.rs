//! Logging never takes the server down: with stdout and stderr on a full device the server
//! starts, answers and keeps answering, and counts the lines it could not write.

use crate::helpers::BIN;
use std::{
    fs::File,
    io::{Read, Write},
    net::TcpStream,
    process::{Child, Command, Stdio},
    time::Duration,
};

/// Kills the server when the test ends, however it ends.
struct Server(Child);

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// The TCP port a process listens on, read from /proc (its log, which would say, is unwritable).
pub(crate) fn listening_port(pid: u32) -> Option<u16> {
    let inodes: Vec<String> = std::fs::read_dir(format!("/proc/{pid}/fd"))
        .ok()?
        .filter_map(|fd| std::fs::read_link(fd.ok()?.path()).ok())
        .filter_map(|target| {
            let t = target.to_string_lossy().into_owned();
            t.strip_prefix("socket:[")?
                .strip_suffix(']')
                .map(str::to_string)
        })
        .collect();
    let table = std::fs::read_to_string("/proc/net/tcp").ok()?;
    table.lines().skip(1).find_map(|line| {
        let f: Vec<&str> = line.split_whitespace().collect();
        // local_address is HEX_IP:HEX_PORT; state 0A is LISTEN; the inode is field 9.
        let listening =
            f.get(3) == Some(&"0A") && f.get(9).is_some_and(|i| inodes.iter().any(|n| n == i));
        listening.then(|| u16::from_str_radix(f[1].split(':').nth(1)?, 16).ok())?
    })
}

/// `hookgate serve` on a port of its choosing over the data dir `dir`, with no input.
fn serve_in(dir: &std::path::Path) -> Command {
    let mut command = Command::new(BIN);
    command
        .arg("--data-dir")
        .arg(dir)
        .args(["--bind", "127.0.0.1:0"])
        .stdin(Stdio::null());
    command
}

fn http(port: u16, request: &[u8]) -> String {
    let mut s = TcpStream::connect(("127.0.0.1", port)).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
    s.write_all(request).unwrap();
    let mut out = String::new();
    let _ = s.read_to_string(&mut out);
    out
}

#[test]
fn the_server_keeps_answering_when_its_log_cannot_be_written() {
    let dir = tempfile::tempdir().unwrap();
    let full = || Stdio::from(File::options().write(true).open("/dev/full").unwrap());
    let server = Server(
        serve_in(dir.path())
            .stdout(full())
            .stderr(full())
            .spawn()
            .unwrap(),
    );
    let pid = server.0.id();
    let mut port = None;
    for _ in 0..200 {
        port = listening_port(pid);
        if port.is_some() {
            break;
        }
        std::thread::sleep(Duration::from_millis(25));
    }
    let port = port.expect("the server listens although nothing it prints can be written");
    let healthz = b"GET /healthz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n";
    assert!(http(port, healthz).starts_with("HTTP/1.1 200"));
    // Requests that log: refused webhooks, malformed HTTP, unknown routes.
    for _ in 0..50 {
        let refused = http(
            port,
            b"POST /api/v1/webhooks/orders/ HTTP/1.1\r\nHost: x\r\nContent-Length: 2\r\nConnection: close\r\n\r\n{}",
        );
        assert!(refused.starts_with("HTTP/1.1 401"), "{refused}");
        let _ = http(port, b"NOT HTTP AT ALL\r\n\r\n");
    }
    assert!(
        http(port, healthz).starts_with("HTTP/1.1 200"),
        "still answering"
    );
    let mut server = server;
    assert!(
        server.0.try_wait().unwrap().is_none(),
        "the server is still running"
    );
}

#[test]
fn log_lines_written_to_a_pipe_carry_no_colour_codes() {
    use std::io::{BufRead, BufReader};
    let dir = tempfile::tempdir().unwrap();
    let mut server = Server(
        serve_in(dir.path())
            // A terminal type that asks for colour does not matter: the pipe does.
            .env("TERM", "xterm-256color")
            .env_remove("RUST_LOG")
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap(),
    );
    let mut log = BufReader::new(server.0.stderr.take().unwrap());
    let mut seen = Vec::new();
    // Read up to the line that says the server listens (it ends the start-up lines).
    while !String::from_utf8_lossy(&seen).contains("hookgate listening") {
        let before = seen.len();
        log.read_until(b'\n', &mut seen).unwrap();
        assert!(
            seen.len() > before,
            "the log ended early: {}",
            String::from_utf8_lossy(&seen)
        );
    }
    // A refused webhook logs a warning with fields, which colour would decorate.
    let port = listening_port(server.0.id()).expect("the server listens");
    let refused = http(
        port,
        b"POST /api/v1/webhooks/orders/ HTTP/1.1\r\nHost: x\r\nContent-Length: 2\r\nConnection: close\r\n\r\n{}",
    );
    assert!(refused.starts_with("HTTP/1.1 401"), "{refused}");
    let _ = server.0.kill();
    let _ = server.0.wait();
    log.read_to_end(&mut seen).unwrap();
    let text = String::from_utf8_lossy(&seen);
    assert!(text.contains(" INFO "), "{text}");
    assert!(!seen.contains(&0x1b), "an escape byte in the log: {text:?}");
}
