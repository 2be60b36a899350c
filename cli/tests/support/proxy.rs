//! A TCP proxy on loopback that can stop forwarding without closing
//! anything, as a link that went down: nothing is refused or reset, bytes
//! just stop passing (the half-open case a process cannot tell from a slow
//! peer). Reaches only `127.0.0.1`.

use std::io::{Read, Write};
use std::net::{Shutdown, TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// A proxy from a port of its own to `127.0.0.1:{target}`.
pub struct StallingProxy {
    /// The port it listens on.
    pub port: u16,
    stalled: Arc<AtomicBool>,
    /// The local ports of its connections to the target: how the target
    /// names them (RabbitMQ's channel names start with them).
    upstream: Arc<Mutex<Vec<u16>>>,
}

fn pump(mut from: TcpStream, mut to: TcpStream, stalled: Arc<AtomicBool>) {
    let _ = from.set_read_timeout(Some(Duration::from_millis(100)));
    let mut buffer = vec![0u8; 64 * 1024];
    loop {
        if stalled.load(Ordering::SeqCst) {
            std::thread::sleep(Duration::from_millis(50));
            continue;
        }
        match from.read(&mut buffer) {
            Ok(0) => break,
            Ok(n) => {
                if to.write_all(&buffer[..n]).is_err() {
                    break;
                }
            }
            Err(e)
                if e.kind() == std::io::ErrorKind::WouldBlock
                    || e.kind() == std::io::ErrorKind::TimedOut => {}
            Err(_) => break,
        }
    }
    let _ = to.shutdown(Shutdown::Both);
    let _ = from.shutdown(Shutdown::Both);
}

impl StallingProxy {
    /// Starts forwarding to `127.0.0.1:{target}`.
    pub fn start(target: u16) -> StallingProxy {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
        let port = listener.local_addr().expect("addr").port();
        let stalled = Arc::new(AtomicBool::new(false));
        let flag = stalled.clone();
        let upstream = Arc::new(Mutex::new(Vec::new()));
        let ports = upstream.clone();
        std::thread::spawn(move || {
            for client in listener.incoming().flatten() {
                let Ok(server) = TcpStream::connect(("127.0.0.1", target)) else {
                    continue;
                };
                if let Ok(addr) = server.local_addr() {
                    ports
                        .lock()
                        .unwrap_or_else(|p| p.into_inner())
                        .push(addr.port());
                }
                let (c2, s2) = match (client.try_clone(), server.try_clone()) {
                    (Ok(c), Ok(s)) => (c, s),
                    _ => continue,
                };
                let (f1, f2) = (flag.clone(), flag.clone());
                std::thread::spawn(move || pump(client, server, f1));
                std::thread::spawn(move || pump(s2, c2, f2));
            }
        });
        StallingProxy {
            port,
            stalled,
            upstream,
        }
    }

    /// The local ports of every connection it opened to the target.
    pub fn upstream_ports(&self) -> Vec<u16> {
        self.upstream
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .clone()
    }

    /// Stops (`true`) or resumes (`false`) forwarding.
    pub fn stall(&self, stalled: bool) {
        self.stalled.store(stalled, Ordering::SeqCst);
    }
}
