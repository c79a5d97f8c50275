//! A client wired as the library wires it for Java (`jni_bridge::create`): real HTTP transports,
//! one per lane.

use promsink::client::Client;
use promsink::config::Config;
use promsink::http::{HttpTransport, Transport};

/// A client of `config` with `lanes` lanes, each with its own [`HttpTransport`]; threads named
/// `name.N`.
pub fn http_client(config: &Config, lanes: usize, name: &str) -> Client {
    let transports = (0..lanes)
        .map(|_| Box::new(HttpTransport::new(config).unwrap()) as Box<dyn Transport>)
        .collect();
    Client::new(config, transports, name.into(), std::sync::Arc::new(|| {})).unwrap()
}
