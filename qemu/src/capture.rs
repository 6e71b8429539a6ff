//! Capture of the CCA tokens the NS host prints on the console.
//!
//! Console protocol (NS host firmware): the token a realm received is
//! printed as lines
//!
//! ```text
//! [anything]CCA-TOKEN-HEX <hex of up to 64 bytes>     (repeated, in order)
//! [anything]CCA-TOKEN-END <total length in decimal>
//! ```
//!
//! Other console output may come between these lines, and a log prefix may
//! precede the marker, so the marker is searched for within each line. The
//! hex after a marker must be the whole rest of the line (trailing
//! whitespace and CR aside): a line that another CPU's output broke into is
//! an error rather than silently corrupted data.

use crate::{Result, bail};

/// Marker of a data line (the parser builds it from "CCA-TOKEN").
#[cfg(test)]
pub const HEX_MARKER: &str = "CCA-TOKEN-HEX ";
/// Marker of the closing line.
#[cfg(test)]
pub const END_MARKER: &str = "CCA-TOKEN-END ";
/// Most bytes one data line carries (128 hex digits).
pub const MAX_LINE_BYTES: usize = 64;
/// Upper bound on a token: TF-RMM's token buffer default is 4 KiB
/// (cca-attestation.md §5, `RMM_CCA_TOKEN_BUFFER`); allow a few times that
/// so a larger platform token is still captured (it is then verified).
pub const MAX_TOKEN_BYTES: usize = 64 * 1024;

/// Whether a run without any captured token fails: the NS host prints the
/// token the realm guest received in every aarch64 boot, so a missing token
/// is an error in `cargo xtask run` and `test`.
pub const REQUIRE_TOKEN: bool = true;

/// Decode one data line's hex (even length, 2..=128 digits).
fn decode_hex_line(text: &str, line_no: usize, what: &str) -> Result<Vec<u8>> {
    let t = text.as_bytes();
    if t.is_empty() || !t.len().is_multiple_of(2) || t.len() > 2 * MAX_LINE_BYTES {
        bail!(
            "console line {line_no}: {what}-HEX needs 2..={} hex digits, an even number; got {}",
            2 * MAX_LINE_BYTES,
            t.len()
        );
    }
    t.chunks(2)
        .map(|pair| {
            let digit = |c: u8| char::from(c).to_digit(16);
            match (digit(pair[0]), digit(pair[1])) {
                (Some(h), Some(l)) => Ok((h * 16 + l) as u8),
                _ => Err(format!(
                    "console line {line_no}: {what}-HEX has a non-hex character"
                )),
            }
        })
        .collect()
}

/// Every token printed in `console`, in order.
///
/// Errors (never panics) on: a malformed data line, an END line whose length
/// is not a decimal number or does not match the bytes received, an END
/// without data, data without a closing END, or a token over
/// [`MAX_TOKEN_BYTES`].
pub fn parse_tokens(console: &str) -> Result<Vec<Vec<u8>>> {
    parse_blobs(console, "CCA-TOKEN")
}

/// Every blob printed in `console` as `{what}-HEX` lines closed by a
/// `{what}-END <length>` line (the CCA token's protocol above, for other
/// evidence too: `TD-REPORT`, `TD-QUOTE`), in order, with the same errors.
pub fn parse_blobs(console: &str, what: &str) -> Result<Vec<Vec<u8>>> {
    let hex_marker = format!("{what}-HEX ");
    let end_marker = format!("{what}-END ");
    let mut blobs = Vec::new();
    // Bytes of the blob being received, and the line of its first chunk.
    let mut pending: Option<(Vec<u8>, usize)> = None;
    for (i, line) in console.lines().enumerate() {
        let line_no = i + 1;
        if let Some(pos) = line.find(&hex_marker) {
            let rest = line[pos + hex_marker.len()..].trim_end();
            let bytes = decode_hex_line(rest, line_no, what)?;
            let (buf, _) = pending.get_or_insert_with(|| (Vec::new(), line_no));
            if buf.len() + bytes.len() > MAX_TOKEN_BYTES {
                bail!("console line {line_no}: {what} longer than {MAX_TOKEN_BYTES} bytes");
            }
            buf.extend_from_slice(&bytes);
        } else if let Some(pos) = line.find(&end_marker) {
            let rest = line[pos + end_marker.len()..].trim_end();
            let Some((buf, _)) = pending.take() else {
                bail!("console line {line_no}: {what}-END without {what}-HEX lines");
            };
            let len: usize = match rest.parse() {
                Ok(n) if rest.bytes().all(|c| c.is_ascii_digit()) => n,
                _ => bail!("console line {line_no}: {what}-END length {rest:?} is not decimal"),
            };
            if len != buf.len() {
                bail!(
                    "console line {line_no}: {what}-END says {len} bytes, {} were received",
                    buf.len()
                );
            }
            blobs.push(buf);
        }
    }
    if let Some((buf, first)) = pending {
        bail!(
            "{what} starting at console line {first} has no {what}-END ({} bytes received)",
            buf.len()
        );
    }
    Ok(blobs)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The console lines the NS host prints for `token`, with `prefix`.
    fn lines(token: &[u8], prefix: &str) -> String {
        let mut s = String::new();
        for chunk in token.chunks(MAX_LINE_BYTES) {
            s += &format!("{prefix}{HEX_MARKER}{}\n", crate::token::hex(chunk));
        }
        s + &format!("{prefix}{END_MARKER}{}\n", token.len())
    }

    #[test]
    fn round_trip_with_noise_and_prefixes() {
        let token: Vec<u8> = (0..300u32).map(|i| (i * 7) as u8).collect();
        let printed = lines(&token, "[ns-host] ");
        let mut console = String::from("boot\nrealm 0 ok\n");
        for (i, l) in printed.lines().enumerate() {
            console += l;
            console += "\r\n";
            if i % 2 == 0 {
                console += "cpu1: unrelated output 0123abcd\n";
            }
        }
        console += "12 passed, 0 failed\n";
        assert_eq!(
            parse_tokens(&console).unwrap(),
            std::slice::from_ref(&token)
        );
        // Two tokens in a row, without a prefix.
        let two = format!("{}{}", lines(&token, ""), lines(&[1, 2, 3], ""));
        assert_eq!(parse_tokens(&two).unwrap(), [token, vec![1, 2, 3]]);
        // Upper-case hex is fine.
        assert_eq!(
            parse_tokens("CCA-TOKEN-HEX ABcd\nCCA-TOKEN-END 2").unwrap(),
            [vec![0xAB, 0xCD]]
        );
    }

    #[test]
    fn no_token_is_not_an_error() {
        assert!(parse_tokens("").unwrap().is_empty());
        assert!(
            parse_tokens("CCA-TOKEN-HEX\nCCA-TOKEN-ENDING")
                .unwrap()
                .is_empty()
        );
    }

    #[test]
    fn malformed_lines_are_errors() {
        let long = format!("CCA-TOKEN-HEX {}\nCCA-TOKEN-END 65\n", "00".repeat(65));
        for bad in [
            "CCA-TOKEN-HEX abc\nCCA-TOKEN-END 1",   // odd length
            "CCA-TOKEN-HEX zz\nCCA-TOKEN-END 1",    // not hex
            "CCA-TOKEN-HEX ab cd\nCCA-TOKEN-END 2", // broken line
            "CCA-TOKEN-HEX \nCCA-TOKEN-END 0",      // empty chunk
            "CCA-TOKEN-HEX +1\nCCA-TOKEN-END 1",    // sign is not hex
            "CCA-TOKEN-HEX éé\nCCA-TOKEN-END 2",    // non-ASCII
            long.as_str(),                          // over 64 bytes
            "CCA-TOKEN-HEX abcd\nCCA-TOKEN-END 3",  // length mismatch
            "CCA-TOKEN-HEX abcd\nCCA-TOKEN-END +2", // not decimal
            "CCA-TOKEN-HEX abcd\nCCA-TOKEN-END 2x", // trailing junk
            "CCA-TOKEN-HEX abcd\nCCA-TOKEN-END 99999999999999999999999", // overflow
            "CCA-TOKEN-END 0",                      // END alone
            "CCA-TOKEN-HEX abcd\n",                 // no END
        ] {
            assert!(parse_tokens(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn oversized_token_is_an_error() {
        let chunk = format!("CCA-TOKEN-HEX {}\n", "00".repeat(MAX_LINE_BYTES));
        let n = MAX_TOKEN_BYTES / MAX_LINE_BYTES + 1;
        let console = chunk.repeat(n) + &format!("CCA-TOKEN-END {}\n", n * MAX_LINE_BYTES);
        assert!(parse_tokens(&console).unwrap_err().contains("longer than"));
    }
}
