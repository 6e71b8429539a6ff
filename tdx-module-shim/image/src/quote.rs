//! The shim's quoting service (docs/tdx-attestation.md): what Intel's TD
//! Quoting Enclave does for a VMM serving GetQuote. It accepts a TDREPORT
//! only if this platform's TDREPORT MAC key verifies it (the report was
//! made by this module for a TD on this device), then signs a TD Quote v4
//! with the attestation key and a QE report signed by the project PCK,
//! both derived from the device root secret. Not Intel-rooted.

extern crate alloc;

use alloc::vec::Vec;

use cmon_evidence::tdx::{QuoteParams, TDREPORT_LEN, build_quote_v4, verify_report_mac};
use tdx_module_shim::TdxPlatform;

use qemu_q35::println;

use crate::global::MODULE;

/// A quote for `report`, or why there is none.
pub fn quote(report: &[u8; TDREPORT_LEN]) -> Result<Vec<u8>, &'static str> {
    let m = MODULE.get().ok_or("the module is not installed")?;
    let keys = m.platform().keys().ok_or("no device root secret")?;
    let mac = keys
        .tdx_report_mac_key()
        .map_err(|_| "no TDREPORT MAC key")?;
    verify_report_mac(report, mac.as_bytes())
        .map_err(|_| "the TDREPORT's MAC or hashes do not verify")?;
    let ak = keys
        .tdx_quote_signing_key()
        .map_err(|_| "no attestation key")?;
    let pck = keys.tdx_pck_signing_key().map_err(|_| "no PCK")?;
    build_quote_v4(report, &ak, &pck, &QuoteParams::default()).map_err(|_| "quote encoding")
}

/// Print `bytes` as `{what}-HEX` lines (64 bytes each) and a closing
/// `{what}-END <length>` line, the console protocol `cargo xtask` captures
/// (qemu/src/capture.rs).
pub fn print_blob(what: &str, bytes: &[u8]) {
    for line in bytes.chunks(64) {
        println!("{what}-HEX {}", Hex(line));
    }
    println!("{what}-END {}", bytes.len());
}

/// `bytes` as lowercase hex digits on the console.
pub struct Hex<'a>(pub &'a [u8]);

impl core::fmt::Display for Hex<'_> {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        self.0.iter().try_for_each(|b| write!(f, "{b:02x}"))
    }
}
