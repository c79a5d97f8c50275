//! promsink-test-receiver: a Remote-Write receiver on 127.0.0.1 that answers by a script
//! (statuses, Retry-After, delays, resets; see `script.rs`) and records and checks every request:
//! the four Remote-Write headers, a snappy + protobuf body that decodes, labels sorted and unique
//! with `__name__`, per-series timestamp order across accepted requests, an expected
//! `Authorization` header, an HMAC signature header.
//!
//! It prints `listening 127.0.0.1:PORT` on its first line, then serves until killed.
//! `GET /stats` returns the counts as JSON, `GET /series` every accepted sample (one JSON object
//! per line), `GET /requests` the log of requests (capped).
//!
//! Options: `--listen ADDR` (default 127.0.0.1:0), `--script STEPS`, `--then STEP` (default
//! 204), `--expect-authorization VALUE`, `--hmac-key KEY --hmac-header NAME`, `--count-only`
//! (read and count bytes only, for benchmarks).

mod script;

use hmac::{Hmac, Mac};
use promsink_wire::v1::WriteRequest;
use prost::Message;
use script::{Action, Script, Step};
use sha2::Sha256;
use std::collections::{BTreeMap, HashMap};
use std::fmt::Write as _;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

const MAX_LOGGED_REQUESTS: usize = 10_000;

struct Options {
    listen: String,
    script: String,
    then: String,
    expect_authorization: Option<String>,
    hmac: Option<(String, String)>,
    count_only: bool,
}

fn options() -> Result<Options, String> {
    let mut o = Options {
        listen: "127.0.0.1:0".into(),
        script: String::new(),
        then: "204".into(),
        expect_authorization: None,
        hmac: None,
        count_only: false,
    };
    let mut args = std::env::args().skip(1);
    let mut hmac_key = None;
    let mut hmac_header = None;
    while let Some(a) = args.next() {
        let mut value = || args.next().ok_or(format!("{a} needs a value"));
        match a.as_str() {
            "--listen" => o.listen = value()?,
            "--script" => o.script = value()?,
            "--then" => o.then = value()?,
            "--expect-authorization" => o.expect_authorization = Some(value()?),
            "--hmac-key" => hmac_key = Some(value()?),
            "--hmac-header" => hmac_header = Some(value()?),
            "--count-only" => o.count_only = true,
            _ => return Err(format!("unknown argument {a}")),
        }
    }
    if let (Some(k), Some(h)) = (hmac_key, hmac_header) {
        o.hmac = Some((k, h.to_ascii_lowercase()));
    }
    Ok(o)
}

#[derive(Default)]
struct State {
    requests: u64,
    bytes: u64,
    accepted_requests: u64,
    accepted_samples: u64,
    statuses: BTreeMap<String, u64>,
    order_violations: u64,
    duplicate_timestamps: u64,
    header_errors: u64,
    label_errors: u64,
    decode_errors: u64,
    auth_failures: u64,
    signature_failures: u64,
    problems: Vec<String>,
    log: Vec<String>,
    series: BTreeMap<String, Vec<(i64, f64)>>,
    last_timestamp: HashMap<String, i64>,
}

impl State {
    fn problem(&mut self, p: String) {
        if self.problems.len() < 100 {
            self.problems.push(p);
        }
    }
}

struct Server {
    options: Options,
    script: Mutex<Script>,
    state: Mutex<State>,
    started: Instant,
}

fn main() {
    let options = match options() {
        Ok(o) => o,
        Err(e) => {
            eprintln!("promsink-test-receiver: {e}");
            std::process::exit(2);
        }
    };
    let script = match Script::parse(&options.script, &options.then) {
        Ok(s) => s,
        Err(e) => {
            eprintln!("promsink-test-receiver: {e}");
            std::process::exit(2);
        }
    };
    let listener = TcpListener::bind(&options.listen).expect("bind");
    println!("listening {}", listener.local_addr().expect("address"));
    std::io::stdout().flush().ok();
    let server = Arc::new(Server {
        options,
        script: Mutex::new(script),
        state: Mutex::new(State::default()),
        started: Instant::now(),
    });
    for stream in listener.incoming().flatten() {
        let server = server.clone();
        std::thread::spawn(move || server.serve(stream));
    }
}

struct Request {
    method: String,
    path: String,
    headers: Vec<(String, String)>,
    content_length: usize,
}

impl Request {
    fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }
}

fn read_head(reader: &mut BufReader<TcpStream>) -> Option<Request> {
    let mut line = String::new();
    if reader.read_line(&mut line).ok()? == 0 {
        return None;
    }
    let mut parts = line.split_whitespace();
    let method = parts.next()?.to_string();
    let path = parts.next()?.to_string();
    let mut headers = Vec::new();
    loop {
        let mut h = String::new();
        if reader.read_line(&mut h).ok()? == 0 {
            return None;
        }
        let h = h.trim_end();
        if h.is_empty() {
            break;
        }
        if let Some((n, v)) = h.split_once(':') {
            headers.push((n.trim().to_string(), v.trim().to_string()));
        }
    }
    let content_length = headers
        .iter()
        .find(|(n, _)| n.eq_ignore_ascii_case("content-length"))
        .and_then(|(_, v)| v.parse().ok())
        .unwrap_or(0);
    Some(Request {
        method,
        path,
        headers,
        content_length,
    })
}

fn respond(out: &mut TcpStream, status: u16, headers: &[(&str, String)], body: &str) -> bool {
    let mut r = format!(
        "HTTP/1.1 {status} Scripted\r\ncontent-length: {}\r\n",
        body.len()
    );
    for (n, v) in headers {
        let _ = write!(r, "{n}: {v}\r\n");
    }
    r.push_str("\r\n");
    r.push_str(body);
    out.write_all(r.as_bytes()).is_ok()
}

/// True when the client closed the connection (it gave up waiting).
fn peer_closed(stream: &TcpStream) -> bool {
    let mut b = [0u8; 1];
    let _ = stream.set_nonblocking(true);
    let closed = matches!(stream.peek(&mut b), Ok(0));
    let _ = stream.set_nonblocking(false);
    closed
}

impl Server {
    fn serve(&self, stream: TcpStream) {
        let Ok(read_half) = stream.try_clone() else {
            return;
        };
        let mut reader = BufReader::new(read_half);
        let mut out = stream;
        while let Some(request) = read_head(&mut reader) {
            if request.method == "GET" {
                let body = match request.path.as_str() {
                    "/stats" => self.stats_json(),
                    "/series" => self.series_json(),
                    "/requests" => self.state.lock().unwrap().log.join("\n"),
                    _ => String::new(),
                };
                if !respond(&mut out, 200, &[], &body) {
                    return;
                }
                continue;
            }
            let at_ms = self.started.elapsed().as_millis();
            let step = self.script.lock().unwrap().next();
            if step.action == Action::Reset {
                // Closing with the body unread makes the kernel answer with a TCP reset.
                self.record_other(&request, at_ms, "reset");
                return;
            }
            let mut body = vec![0; request.content_length];
            if reader.read_exact(&mut body).is_err() {
                return;
            }
            if !self.answer(&mut out, &request, &body, &step, at_ms) {
                return;
            }
        }
    }

    fn answer(
        &self,
        out: &mut TcpStream,
        request: &Request,
        body: &[u8],
        step: &Step,
        at_ms: u128,
    ) -> bool {
        std::thread::sleep(step.delay);
        if !step.delay.is_zero() && peer_closed(out) {
            self.record_other(request, at_ms, "abandoned");
            return false;
        }
        let mut status = match step.action {
            Action::Status(s) => s,
            Action::Reset => unreachable!("handled by the caller"),
        };
        let mut response_body = step.body.clone();
        if let Some(expected) = &self.options.expect_authorization {
            if request.header("authorization") != Some(expected.as_str()) {
                self.state.lock().unwrap().auth_failures += 1;
                status = 401;
                response_body = "unauthorized".into();
            }
        }
        if let Some((key, header)) = &self.options.hmac {
            if request.header(header) != Some(hmac_hex(key, body).as_str()) {
                self.state.lock().unwrap().signature_failures += 1;
                status = 401;
                response_body = "bad signature".into();
            }
        }
        self.record(request, body, status, at_ms);
        let mut headers = Vec::new();
        if let Some(ra) = &step.retry_after {
            headers.push(("retry-after", retry_after_value(ra)));
        }
        respond(out, status, &headers, &response_body)
    }

    fn record_other(&self, request: &Request, at_ms: u128, what: &str) {
        let mut st = self.state.lock().unwrap();
        st.requests += 1;
        *st.statuses.entry(what.to_string()).or_default() += 1;
        log_request(&mut st, request, at_ms, what, 0, 0);
    }

    fn record(&self, request: &Request, body: &[u8], status: u16, at_ms: u128) {
        let accepted = (200..300).contains(&status);
        // Decoded, and every series named, before the lock: the connections' threads decode in
        // parallel and only the bookkeeping is serial (the sender keeps one request per series
        // in flight, so the order of a series' requests is the order they are recorded in).
        let decoded = (!self.options.count_only).then(|| {
            snap::raw::Decoder::new()
                .decompress_vec(body)
                .map_err(|e| e.to_string())
                .and_then(|raw| WriteRequest::decode(raw.as_slice()).map_err(|e| e.to_string()))
                .map(|write| {
                    let keys: Vec<String> = write.timeseries.iter().map(series_key).collect();
                    (write, keys)
                })
        });
        let mut st = self.state.lock().unwrap();
        st.requests += 1;
        st.bytes += body.len() as u64;
        *st.statuses.entry(status.to_string()).or_default() += 1;
        let Some(decoded) = decoded else {
            // Count-only: nothing decoded.
            if accepted {
                st.accepted_requests += 1;
            }
            log_request(&mut st, request, at_ms, &status.to_string(), 0, 0);
            return;
        };
        check_headers(&mut st, request);
        let (write, keys) = match decoded {
            Ok(d) => d,
            Err(e) => {
                st.decode_errors += 1;
                st.problem(format!("request at {at_ms} ms does not decode: {e}"));
                log_request(&mut st, request, at_ms, &status.to_string(), 0, 0);
                return;
            }
        };
        let samples: usize = write.timeseries.iter().map(|t| t.samples.len()).sum();
        log_request(
            &mut st,
            request,
            at_ms,
            &status.to_string(),
            write.timeseries.len(),
            samples,
        );
        for ts in &write.timeseries {
            check_labels(&mut st, ts);
        }
        if !accepted {
            return;
        }
        st.accepted_requests += 1;
        st.accepted_samples += samples as u64;
        for (ts, key) in write.timeseries.into_iter().zip(keys) {
            let mut last = st.last_timestamp.get(&key).copied();
            for s in &ts.samples {
                match last {
                    Some(l) if s.timestamp < l => {
                        st.order_violations += 1;
                        let p = format!("{key}: {} after {l}", s.timestamp);
                        st.problem(p);
                    }
                    Some(l) if s.timestamp == l => st.duplicate_timestamps += 1,
                    _ => {}
                }
                last = Some(s.timestamp);
            }
            if let Some(l) = last {
                st.last_timestamp.insert(key.clone(), l);
                st.series
                    .entry(key)
                    .or_default()
                    .extend(ts.samples.iter().map(|s| (s.timestamp, s.value)));
            }
        }
    }

    fn stats_json(&self) -> String {
        let st = self.state.lock().unwrap();
        let statuses: Vec<String> = st
            .statuses
            .iter()
            .map(|(k, v)| format!("{}:{v}", json_str(k)))
            .collect();
        let problems: Vec<String> = st.problems.iter().map(|p| json_str(p)).collect();
        format!(
            "{{\"requests\":{},\"bytes\":{},\"accepted_requests\":{},\"accepted_samples\":{},\
             \"series\":{},\"statuses\":{{{}}},\"order_violations\":{},\
             \"duplicate_timestamps\":{},\"header_errors\":{},\"label_errors\":{},\
             \"decode_errors\":{},\"auth_failures\":{},\"signature_failures\":{},\
             \"problems\":[{}]}}",
            st.requests,
            st.bytes,
            st.accepted_requests,
            st.accepted_samples,
            st.series.len(),
            statuses.join(","),
            st.order_violations,
            st.duplicate_timestamps,
            st.header_errors,
            st.label_errors,
            st.decode_errors,
            st.auth_failures,
            st.signature_failures,
            problems.join(",")
        )
    }

    fn series_json(&self) -> String {
        let st = self.state.lock().unwrap();
        let mut out = String::new();
        for (key, samples) in &st.series {
            let points: Vec<String> = samples
                .iter()
                .map(|(t, v)| format!("[{t},{}]", json_str(&format!("{v:?}"))))
                .collect();
            let _ = writeln!(
                out,
                "{{\"series\":{},\"samples\":[{}]}}",
                json_str(key),
                points.join(",")
            );
        }
        out
    }
}

fn log_request(
    st: &mut State,
    request: &Request,
    at_ms: u128,
    status: &str,
    series: usize,
    samples: usize,
) {
    if st.log.len() >= MAX_LOGGED_REQUESTS {
        return;
    }
    let headers: Vec<String> = request
        .headers
        .iter()
        .map(|(n, v)| format!("{}:{}", json_str(&n.to_ascii_lowercase()), json_str(v)))
        .collect();
    let line = format!(
        "{{\"at_ms\":{at_ms},\"status\":{},\"series\":{series},\"samples\":{samples},\
         \"headers\":{{{}}}}}",
        json_str(status),
        headers.join(",")
    );
    st.log.push(line);
}

fn check_headers(st: &mut State, request: &Request) {
    let expected = [
        ("content-encoding", Some("snappy")),
        ("content-type", Some("application/x-protobuf")),
        ("x-prometheus-remote-write-version", Some("0.1.0")),
        ("user-agent", None),
    ];
    for (name, value) in expected {
        let ok = match (request.header(name), value) {
            (Some(got), Some(want)) => got == want,
            (Some(got), None) => !got.is_empty(),
            (None, _) => false,
        };
        if !ok {
            st.header_errors += 1;
            let p = format!("header {name} is {:?}", request.header(name));
            st.problem(p);
        }
    }
    if request.method != "POST" || request.path != "/api/v1/write" {
        st.header_errors += 1;
        let p = format!("{} {}", request.method, request.path);
        st.problem(p);
    }
}

fn check_labels(st: &mut State, ts: &promsink_wire::v1::TimeSeries) {
    let sorted_unique = ts.labels.windows(2).all(|w| w[0].name < w[1].name);
    let has_name = ts.labels.iter().any(|l| l.name == "__name__");
    let non_empty = ts
        .labels
        .iter()
        .all(|l| !l.name.is_empty() && !l.value.is_empty());
    let ordered = ts
        .samples
        .windows(2)
        .all(|w| w[0].timestamp <= w[1].timestamp);
    if !(sorted_unique && has_name && non_empty && ordered) {
        st.label_errors += 1;
        let p = format!("bad series {}", series_key(ts));
        st.problem(p);
    }
}

fn series_key(ts: &promsink_wire::v1::TimeSeries) -> String {
    let labels: Vec<String> = ts
        .labels
        .iter()
        .map(|l| format!("{}=\"{}\"", l.name, l.value))
        .collect();
    format!("{{{}}}", labels.join(","))
}

fn hmac_hex(key: &str, body: &[u8]) -> String {
    let mut mac = Hmac::<Sha256>::new_from_slice(key.as_bytes()).expect("any key length");
    mac.update(body);
    mac.finalize()
        .into_bytes()
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

fn retry_after_value(spec: &str) -> String {
    match spec.strip_prefix("date+") {
        Some(secs) => {
            let now = SystemTime::now().duration_since(UNIX_EPOCH).unwrap();
            http_date(now + Duration::from_secs(secs.parse().unwrap_or(0)))
        }
        None => spec.to_string(),
    }
}

/// IMF-fixdate of a time since the epoch.
fn http_date(t: Duration) -> String {
    let secs = t.as_secs() as i64;
    let (days, rem) = (secs.div_euclid(86_400), secs.rem_euclid(86_400));
    // Civil date from days since the epoch (Howard Hinnant's algorithm).
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    const WEEKDAYS: [&str; 7] = ["Thu", "Fri", "Sat", "Sun", "Mon", "Tue", "Wed"];
    const MONTHS: [&str; 12] = [
        "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
    ];
    format!(
        "{}, {day:02} {} {year} {:02}:{:02}:{:02} GMT",
        WEEKDAYS[days.rem_euclid(7) as usize],
        MONTHS[(month - 1) as usize],
        rem / 3600,
        rem % 3600 / 60,
        rem % 60
    )
}

fn json_str(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 2);
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            c if (c as u32) < 0x20 => {
                let _ = write!(out, "\\u{:04x}", c as u32);
            }
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn http_dates_are_imf_fixdate() {
        assert_eq!(
            http_date(Duration::from_secs(784_111_777)),
            "Sun, 06 Nov 1994 08:49:37 GMT"
        );
        assert_eq!(
            http_date(Duration::from_secs(951_782_400)),
            "Tue, 29 Feb 2000 00:00:00 GMT"
        );
    }

    #[test]
    fn json_strings_are_escaped() {
        assert_eq!(json_str("a\"b\\c\n"), "\"a\\\"b\\\\c\\u000a\"");
    }
}
