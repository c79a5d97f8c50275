//! The body of one request in the Remote-Write version the client speaks, and that version.
//!
//! Lanes hold a request as Remote-Write 1.0 `timeseries` entries. A client configured for 2.0
//! sends 2.0 (`encode_v2.rs`) until the receiver shows it does not speak it, then 1.0 for good:
//! a 2.0 receiver answers with `X-Prometheus-Remote-Write-Samples-Written`, while Prometheus 2.42
//! and VictoriaMetrics 1.79 answer a 2.0 request with 204 and store nothing (they read the body
//! as an empty 1.0 request), and receivers that refuse the content type answer 415 (the 2.0
//! specification) or 400.

use crate::compress::Compressor;
use crate::encode_v2::V2Encoder;
use crate::http::WireVersion;
use std::sync::atomic::{AtomicBool, Ordering};

/// The version a client's lanes send, shared by them.
pub struct Protocol {
    v2: AtomicBool,
}

impl Protocol {
    /// Sends `configured` until [`Protocol::fall_back`].
    pub fn new(configured: WireVersion) -> Protocol {
        Protocol {
            v2: AtomicBool::new(configured == WireVersion::V2),
        }
    }

    /// The version to send now.
    pub fn current(&self) -> WireVersion {
        if self.v2.load(Ordering::Acquire) {
            WireVersion::V2
        } else {
            WireVersion::V1
        }
    }

    /// Sends 1.0 from now on. True for the one call that made the change (to say it once).
    pub fn fall_back(&self) -> bool {
        self.v2.swap(false, Ordering::AcqRel)
    }

    /// Whether a 2.0 request answered so shows a receiver that does not speak 2.0: 415, or a
    /// 2xx or 400 without the samples-written header, which every 2.0 receiver sends (nothing
    /// may count as written then). At worst one request goes again as 1.0.
    pub fn refused_v2(status: u16, written: Option<u64>) -> bool {
        status == 415 || (written.is_none() && ((200..300).contains(&status) || status == 400))
    }
}

/// Builds compressed request bodies, reusing its buffers from request to request.
#[derive(Default)]
pub struct RequestBody {
    compressor: Compressor,
    v2: V2Encoder,
    v2_bytes: Vec<u8>,
    body: Vec<u8>,
}

impl RequestBody {
    /// The compressed body of the request holding the 1.0 entries `v1`, in `version`.
    pub fn build(&mut self, v1: &[u8], version: WireVersion) -> Result<&[u8], String> {
        let bytes = match version {
            WireVersion::V1 => v1,
            WireVersion::V2 => {
                self.v2.encode(v1, &mut self.v2_bytes)?;
                &self.v2_bytes
            }
        };
        self.compressor.compress_into(bytes, &mut self.body);
        Ok(&self.body)
    }

    /// The body built last.
    pub fn bytes(&self) -> &[u8] {
        &self.body
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn falls_back_once_and_stays_on_1_0() {
        let p = Protocol::new(WireVersion::V2);
        assert_eq!(p.current(), WireVersion::V2);
        assert!(p.fall_back());
        assert!(!p.fall_back());
        assert_eq!(p.current(), WireVersion::V1);
        assert_eq!(Protocol::new(WireVersion::V1).current(), WireVersion::V1);
    }

    #[test]
    fn a_2xx_or_400_without_the_written_header_or_a_415_refuses_2_0() {
        assert!(Protocol::refused_v2(204, None));
        assert!(Protocol::refused_v2(200, None));
        assert!(Protocol::refused_v2(415, None));
        assert!(Protocol::refused_v2(400, None));
        assert!(!Protocol::refused_v2(204, Some(0)));
        assert!(!Protocol::refused_v2(400, Some(3)));
        assert!(!Protocol::refused_v2(401, None));
        assert!(!Protocol::refused_v2(429, None));
        assert!(!Protocol::refused_v2(503, None));
    }
}
