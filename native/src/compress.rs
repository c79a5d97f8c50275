//! Snappy block compression (never the framed format) with a reused encoder and output buffer.

/// Compresses request bodies, reusing its state and output buffer.
pub struct Compressor {
    encoder: snap::raw::Encoder,
}

impl Default for Compressor {
    fn default() -> Self {
        Compressor {
            encoder: snap::raw::Encoder::new(),
        }
    }
}

impl Compressor {
    /// A compressor with fresh state.
    pub fn new() -> Self {
        Compressor::default()
    }

    /// Compresses `input` into `out`, replacing its contents and reusing its capacity.
    pub fn compress_into(&mut self, input: &[u8], out: &mut Vec<u8>) {
        out.clear();
        out.resize(snap::raw::max_compress_len(input.len()), 0);
        // Cannot fail: the output is sized by max_compress_len and the input is not too large
        // (batches are bounded far below snappy's 4 GiB limit by the batch format's u32 lengths).
        let written = self
            .encoder
            .compress(input, out)
            .expect("snappy output buffer sized by max_compress_len");
        out.truncate(written);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trips_through_snappy_block_format() {
        let input: Vec<u8> = (0..10_000u32)
            .flat_map(|i| (i % 251).to_le_bytes())
            .collect();
        let mut c = Compressor::new();
        let mut out = Vec::new();
        c.compress_into(&input, &mut out);
        assert!(out.len() < input.len());
        assert_eq!(
            snap::raw::Decoder::new().decompress_vec(&out).unwrap(),
            input
        );
        // Not the framed format: that starts with the stream identifier chunk 0xff.
        assert_ne!(out[0], 0xff);
    }

    #[test]
    fn reuses_the_output_buffer() {
        let mut c = Compressor::new();
        let mut out = Vec::new();
        c.compress_into(&[7u8; 4096], &mut out);
        let cap = out.capacity();
        c.compress_into(b"small", &mut out);
        assert_eq!(out.capacity(), cap);
        assert_eq!(
            snap::raw::Decoder::new().decompress_vec(&out).unwrap(),
            b"small"
        );
    }

    #[test]
    fn empty_input_compresses() {
        let mut out = vec![1, 2, 3];
        Compressor::new().compress_into(&[], &mut out);
        assert_eq!(snap::raw::Decoder::new().decompress_vec(&out).unwrap(), b"");
    }
}
