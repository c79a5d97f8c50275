//! A stuck DNS resolver cannot hang the sink: each attempt ends within the socket timeout with a
//! retryable error naming the resolution, and the policy retries it like any network error.
//!
//! The check runs in a network and mount namespace the test creates (`unshare --net --mount`,
//! which needs root): its only interface is loopback, and private copies of /etc/resolv.conf,
//! /etc/nsswitch.conf and /etc/hosts, bind-mounted inside the namespace only, send every lookup
//! to a resolver on 127.0.0.1:53 that takes queries and never answers. No query can leave the
//! machine, and the host's files are never touched. Needs `unshare` (util-linux) and `ip`
//! (iproute2).

use crossbeam_channel::{unbounded, Receiver as Rx};
use promsink::batch::BatchWriter;
use promsink::client::{BatchResult, Client, Outcome};
use promsink::config::Config;
use promsink::http::{Attempt, HttpTransport, Transport, WireVersion};
use promsink::metrics::Counter;
use std::collections::BTreeSet;
use std::ffi::CString;
use std::io::Read;
use std::net::{TcpListener, ToSocketAddrs, UdpSocket};
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::thread;
use std::time::{Duration, Instant};

/// Set for the run inside the namespace, to the network namespace of the run that created it.
const INSIDE: &str = "PROMSINK_DNS_TEST_OUTER_NETNS";
/// The command (words separated by spaces) that runs this test binary, if the host cannot run it
/// directly: `qemu-aarch64 -L /usr/aarch64-linux-gnu` for the aarch64 build.
const RUNNER: &str = "PROMSINK_TEST_RUNNER";
/// A name in no hosts file: only DNS can answer it.
const HOST: &str = "metrics.promsink.test";
const URL: &str = "http://metrics.promsink.test:9090/api/v1/write";
/// How long the stuck resolver keeps glibc waiting (its largest timeout).
const RESOLVER_HANG: Duration = Duration::from_secs(30);
/// Printed by the run inside the namespace once it is set up.
const READY: &str = "promsink-dns: inside a private network and mount namespace";

#[test]
fn a_stuck_resolver_fails_each_attempt_within_the_socket_timeout_and_is_retried() {
    let test = "a_stuck_resolver_fails_each_attempt_within_the_socket_timeout_and_is_retried";
    match std::env::var(INSIDE) {
        Ok(outer) => inside_the_namespace(&outer),
        Err(_) => run_in_a_namespace(test),
    }
}

/// The network namespace of this process, as `net:[inode]`.
fn netns() -> String {
    std::fs::read_link("/proc/self/ns/net")
        .unwrap()
        .to_string_lossy()
        .into_owned()
}

/// Runs this test again, alone, in a new network and mount namespace, and fails with its output
/// unless it passed there. Never passes without having run the check.
fn run_in_a_namespace(test: &str) {
    let resolv_conf = std::fs::read("/etc/resolv.conf").ok();
    // A cross-built test binary (scripts/native-aarch64.sh) runs under an emulator the host
    // cannot start it without: the same one runs it again in the namespace.
    let runner = std::env::var(RUNNER).unwrap_or_default();
    let mut child = Command::new("unshare")
        .args(["--net", "--mount", "--propagation", "private", "--"])
        .args(runner.split_whitespace())
        .arg(std::env::current_exe().unwrap())
        .args([test, "--exact", "--nocapture", "--test-threads=1"])
        .env(INSIDE, netns())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| {
            panic!(
                "THIS TEST DID NOT RUN: cannot start `unshare` (util-linux) to create a network \
                 and mount namespace: {e}"
            )
        });
    let read = |mut pipe: Box<dyn Read + Send>| {
        thread::spawn(move || {
            let mut text = String::new();
            let _ = pipe.read_to_string(&mut text);
            text
        })
    };
    let stdout = read(Box::new(child.stdout.take().unwrap()));
    let stderr = read(Box::new(child.stderr.take().unwrap()));
    // Bounded: a client that waited for the resolver would take 30 s per attempt.
    let deadline = Instant::now() + Duration::from_secs(120);
    let status = loop {
        if let Some(status) = child.try_wait().unwrap() {
            break Some(status);
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            let _ = child.wait();
            break None;
        }
        thread::sleep(Duration::from_millis(50));
    };
    let (stdout, stderr) = (stdout.join().unwrap(), stderr.join().unwrap());
    println!("{stdout}");
    eprintln!("{stderr}");
    assert_eq!(
        std::fs::read("/etc/resolv.conf").ok(),
        resolv_conf,
        "the host's /etc/resolv.conf changed"
    );
    if !stdout.contains(READY) {
        panic!(
            "THIS TEST DID NOT RUN: no network and mount namespace could be set up (it needs \
             root, or CAP_SYS_ADMIN and CAP_NET_ADMIN, `unshare` and `ip`); exit {status:?}: \
             {stderr}"
        );
    }
    let status = status.expect("the run inside the namespace took over 120 s and was killed");
    assert!(
        status.success() && stdout.contains("test result: ok. 1 passed"),
        "the check inside the namespace failed ({status}); its output is above"
    );
}

/// Makes `path` show `contents` inside this mount namespace only.
fn bind_private_copy(dir: &std::path::Path, path: &str, contents: &str) {
    let copy = dir.join(path.trim_start_matches("/etc/"));
    std::fs::write(&copy, contents).unwrap();
    let source = CString::new(copy.to_str().unwrap()).unwrap();
    let target = CString::new(path).unwrap();
    // SAFETY: valid C strings; a bind mount of one file over another.
    let rc = unsafe {
        libc::mount(
            source.as_ptr(),
            target.as_ptr(),
            std::ptr::null(),
            libc::MS_BIND,
            std::ptr::null(),
        )
    };
    assert_eq!(
        rc,
        0,
        "bind mount over {path}: {}",
        std::io::Error::last_os_error()
    );
    assert_eq!(std::fs::read_to_string(path).unwrap(), contents);
}

/// Loopback up, every lookup sent to 127.0.0.1:53 only. Refuses to go on outside a namespace.
fn set_up_the_namespace(outer: &str) {
    assert_ne!(
        netns(),
        outer,
        "still in the host's network namespace: refusing to send DNS queries"
    );
    let interfaces: Vec<String> = std::fs::read_to_string("/proc/self/net/dev")
        .unwrap()
        .lines()
        .skip(2)
        .filter_map(|l| l.split(':').next())
        .map(|name| name.trim().to_string())
        .collect();
    assert_eq!(interfaces, ["lo"], "not a fresh network namespace");
    let up = Command::new("ip")
        .args(["link", "set", "lo", "up"])
        .status()
        .unwrap_or_else(|e| panic!("cannot run `ip` (iproute2): {e}"));
    assert!(up.success(), "ip link set lo up: {up}");
    let root = CString::new("/").unwrap();
    // SAFETY: valid C string; makes every mount of this namespace private (unshare did already),
    // so the bind mounts below never reach the host.
    let rc = unsafe {
        libc::mount(
            std::ptr::null(),
            root.as_ptr(),
            std::ptr::null(),
            libc::MS_REC | libc::MS_PRIVATE,
            std::ptr::null(),
        )
    };
    assert_eq!(rc, 0, "make / private: {}", std::io::Error::last_os_error());
    let dir = std::env::temp_dir().join(format!("promsink-dns-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    bind_private_copy(
        &dir,
        "/etc/resolv.conf",
        &format!(
            "nameserver 127.0.0.1\noptions timeout:{} attempts:1\n",
            RESOLVER_HANG.as_secs()
        ),
    );
    // Only the hosts file and DNS: no NSS module that reaches a daemon over a Unix socket
    // (systemd-resolved, mDNS), which a network namespace does not cut off.
    if std::path::Path::new("/etc/nsswitch.conf").exists() {
        bind_private_copy(&dir, "/etc/nsswitch.conf", "hosts: files dns\n");
    }
    bind_private_copy(&dir, "/etc/hosts", "127.0.0.1 localhost\n::1 localhost\n");
    // The mounts keep the files; the host's temporary folder does not.
    std::fs::remove_dir_all(&dir).unwrap();
    // glibc would ask a name service cache daemon over a Unix socket: none may run.
    assert!(
        !std::path::Path::new("/run/nscd/socket").exists()
            && !std::path::Path::new("/var/run/nscd/socket").exists(),
        "nscd runs: lookups would bypass the namespace"
    );
}

/// The name asked in a DNS query, if it parses.
fn query_name(packet: &[u8]) -> Option<String> {
    let mut labels = Vec::new();
    let mut i = 12;
    loop {
        let len = *packet.get(i)? as usize;
        if len == 0 {
            return Some(labels.join("."));
        }
        labels.push(String::from_utf8_lossy(packet.get(i + 1..i + 1 + len)?).into_owned());
        i += 1 + len;
    }
}

/// A resolver on 127.0.0.1:53 that takes every query and answers none, over UDP and over TCP
/// (a listener that never accepts). Records the name and source port of each UDP query.
struct StuckResolver {
    queries: Arc<Mutex<Vec<(String, u16)>>>,
    stop: Arc<AtomicBool>,
    thread: Option<thread::JoinHandle<()>>,
    _tcp: TcpListener,
}

impl StuckResolver {
    fn start() -> StuckResolver {
        let udp = UdpSocket::bind("127.0.0.1:53").unwrap();
        udp.set_read_timeout(Some(Duration::from_millis(50)))
            .unwrap();
        let tcp = TcpListener::bind("127.0.0.1:53").unwrap();
        let queries = Arc::new(Mutex::new(Vec::new()));
        let stop = Arc::new(AtomicBool::new(false));
        let (q, s) = (queries.clone(), stop.clone());
        let thread = thread::spawn(move || {
            let mut packet = [0u8; 512];
            let deadline = Instant::now() + Duration::from_secs(120);
            while !s.load(Ordering::SeqCst) && Instant::now() < deadline {
                if let Ok((n, from)) = udp.recv_from(&mut packet) {
                    let name = query_name(&packet[..n]).unwrap_or_default();
                    q.lock().unwrap().push((name, from.port()));
                }
            }
        });
        StuckResolver {
            queries,
            stop,
            thread: Some(thread),
            _tcp: tcp,
        }
    }

    /// The source ports of the queries for `HOST` so far: one per lookup still waiting.
    fn lookups(&self) -> BTreeSet<u16> {
        let queries = self.queries.lock().unwrap();
        queries
            .iter()
            .filter(|(name, _)| name.trim_end_matches('.') == HOST)
            .map(|(_, port)| *port)
            .collect()
    }
}

impl Drop for StuckResolver {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

fn config(extra: &[(&str, &str)]) -> Config {
    let mut pairs = vec![
        ("url", URL),
        ("socket_timeout_ms", "1000"),
        ("retry.initial_delay_ms", "10"),
        ("retry.max_delay_ms", "40"),
    ];
    pairs.extend_from_slice(extra);
    Config::from_pairs(pairs).unwrap()
}

fn batch() -> Vec<u8> {
    let mut w = BatchWriter::new();
    w.series(
        "temperature",
        &[("device", "d0")],
        &[(20.0, 1_700_000_000_000), (21.0, 1_700_000_001_000)],
    );
    w.finish()
}

fn inside_the_namespace(outer: &str) {
    set_up_the_namespace(outer);
    println!("{READY}");
    let resolver = StuckResolver::start();

    // A lookup outside the client, to show the resolver itself hangs far longer.
    let (done, witness) = unbounded();
    let witness_started = Instant::now();
    thread::spawn(move || {
        let _ = (HOST, 9090).to_socket_addrs();
        let _ = done.send(witness_started.elapsed());
    });

    // One attempt through the transport the sink uses.
    let mut transport = HttpTransport::new(&config(&[])).unwrap();
    let started = Instant::now();
    let attempt = transport.post(&batch(), WireVersion::V1);
    let took = started.elapsed();
    println!("promsink-dns: one attempt took {took:?}: {attempt:?}");
    match &attempt {
        Attempt::NoAnswer { error, retryable } => {
            assert!(retryable, "{error}");
            assert!(
                error.contains("timeout") && error.contains("resolve"),
                "{error}"
            );
        }
        other => panic!("expected no answer, got {other:?}"),
    }
    assert!(
        took >= Duration::from_millis(900) && took < Duration::from_secs(3),
        "{took:?}"
    );
    assert!(
        witness.try_recv().is_err(),
        "the resolver answered or gave up: the test proves nothing"
    );
    let lookups = resolver.lookups();
    assert!(!lookups.is_empty(), "the resolver was not asked");

    // A whole client: the failed lookup is retried up to the limit, then dropped.
    let c = Client::new(
        &config(&[
            ("retry.max_retries", "2"),
            ("on_max_retries_exceeded", "DISCARD_AND_CONTINUE"),
        ]),
        vec![Box::new(transport) as Box<dyn Transport>],
        "dns".into(),
        Arc::new(|| {}),
    )
    .unwrap();
    let (tx, rx): (_, Rx<BatchResult>) = unbounded();
    let started = Instant::now();
    c.submit(&batch(), Box::new(move |r| tx.send(r).unwrap()))
        .unwrap();
    let result = rx
        .recv_timeout(Duration::from_secs(20))
        .expect("batch completed");
    let took = started.elapsed();
    println!(
        "promsink-dns: three attempts took {took:?}: {}",
        result.message
    );
    assert_eq!(result.outcome, Outcome::DroppedRetryLimit);
    assert!(
        result.message.starts_with(&format!(
            "retry limit reached: no answer from {URL} after 2 retries (timeout: resolve)"
        )),
        "{}",
        result.message
    );
    // Three attempts of at most a second each, and two short backoffs.
    assert!(
        took >= Duration::from_millis(2900) && took < Duration::from_secs(6),
        "{took:?}"
    );
    let k = c.counters();
    assert_eq!(k[Counter::WriteRequestsRetries as usize], 2);
    assert_eq!(k[Counter::SamplesRetryLimitDropped as usize], 2);
    assert_eq!(k[Counter::SamplesDropped as usize], 2);
    assert_eq!(k[Counter::WriteRequestsPermanentlyFailed as usize], 1);
    assert_eq!(k[Counter::SamplesOut as usize], 0);
    // Each attempt asked the resolver anew (every lookup still waits, on its own socket).
    let asked = resolver.lookups().difference(&lookups).count();
    assert!(asked >= 3, "{asked} new lookups");
    assert!(
        witness.try_recv().is_err(),
        "the resolver stopped hanging before the test ended"
    );
    println!(
        "promsink-dns: a lookup outside the client was still waiting after {:?} (the resolver \
         holds it {RESOLVER_HANG:?})",
        witness_started.elapsed()
    );
}
