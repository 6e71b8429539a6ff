//! Host-side verification of a CCA attestation token (cca-attestation.md
//! §4): the tag-399 collection, both ES384 COSE_Sign1 signatures and the RAK
//! binding of §4.6, through the same `cmon-evidence` decoders the firmware's
//! encoders are tested against.
//!
//! [`verify_token`] never fails as a whole: it returns what it could decode
//! and one [`Check`] per property, so `verify-token`, `run` and `test` can
//! print a readable report and decide on the verdict themselves.

use std::fmt::Write as _;

use cmon_evidence::{
    EvidenceError, PLATFORM_PROFILE, PlatformClaims, RealmClaims, VerifyingKey,
    decode_platform_claims, decode_realm_claims, parse_cca_token_collection, parse_cose_key_p384,
    rak_binding_challenge, sign1_payload_unverified, verify_es384, verifying_key_from_cose_key,
};

/// Lower-case hex of `bytes`.
pub fn hex(bytes: &[u8]) -> String {
    bytes.iter().fold(String::new(), |mut s, b| {
        let _ = write!(s, "{b:02x}");
        s
    })
}

/// Outcome of one check.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Status {
    Pass,
    Fail,
    /// Not checked (e.g. no platform key given): not a failure, but the
    /// token is then not fully verified.
    Skipped,
}

/// One verified property of the token.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Check {
    pub name: &'static str,
    pub status: Status,
    pub detail: String,
}

/// Reference values to compare claims against (all optional).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Expected {
    /// Claim 44238, hash-length bytes.
    pub rim: Option<Vec<u8>>,
    /// Claim 44239, REM1..REM4, hash-length bytes each.
    pub rems: Option<[Vec<u8>; 4]>,
}

/// Everything [`verify_token`] learnt about a token.
#[derive(Debug, Clone, Default)]
pub struct TokenReport {
    /// Decoded realm claims (decoded before the signature check, so they are
    /// shown even when it fails: never trust them unless [`Self::passed`]).
    pub realm: Option<RealmClaims>,
    pub platform: Option<PlatformClaims>,
    pub checks: Vec<Check>,
}

impl TokenReport {
    fn check(&mut self, name: &'static str, status: Status, detail: impl Into<String>) {
        self.checks.push(Check {
            name,
            status,
            detail: detail.into(),
        });
    }

    fn result(&mut self, name: &'static str, r: Result<String, String>) -> bool {
        let ok = r.is_ok();
        match r {
            Ok(d) => self.check(name, Status::Pass, d),
            Err(d) => self.check(name, Status::Fail, d),
        }
        ok
    }

    /// No check failed (skipped checks allowed).
    pub fn passed(&self) -> bool {
        !self.checks.is_empty() && self.checks.iter().all(|c| c.status != Status::Fail)
    }

    /// Every check ran and passed.
    pub fn fully_verified(&self) -> bool {
        !self.checks.is_empty() && self.checks.iter().all(|c| c.status == Status::Pass)
    }

    /// Names of the failed checks.
    pub fn failures(&self) -> Vec<&'static str> {
        self.checks
            .iter()
            .filter(|c| c.status == Status::Fail)
            .map(|c| c.name)
            .collect()
    }

    /// The decoded claims and the check list, as printed by `verify-token`.
    pub fn render(&self) -> String {
        let mut s = String::new();
        if let Some(r) = &self.realm {
            s += &render_realm(r);
        }
        if let Some(p) = &self.platform {
            s += &render_platform(p);
        }
        s += "checks:\n";
        for c in &self.checks {
            let tag = match c.status {
                Status::Pass => "PASS",
                Status::Fail => "FAIL",
                Status::Skipped => "NOT CHECKED",
            };
            let _ = writeln!(s, "  {tag:<11} {:<20} {}", c.name, c.detail);
        }
        s
    }
}

/// Name of a PSA security lifecycle value (draft-ffm-rats-cca-token, the
/// PSA lifecycle ranges: the major state is the high byte).
pub fn lifecycle_name(v: u16) -> &'static str {
    match v >> 8 {
        0x00 => "unknown",
        0x10 => "assembly_and_test",
        0x20 => "psa_rot_provisioning",
        0x30 => "secured",
        0x40 => "non_psa_rot_debug",
        0x50 => "recoverable_psa_rot_debug",
        0x60 => "decommissioned",
        _ => "invalid",
    }
}

fn render_realm(r: &RealmClaims) -> String {
    let n = r.hash_algo.digest_len();
    let mut s = String::from("realm token claims:\n");
    let mut line = |k: &str, v: String| {
        let _ = writeln!(s, "  {k:<28} {v}");
    };
    line("challenge (10)", hex(&r.challenge));
    line("personalization (44235)", hex(&r.rpv));
    line("hash algorithm (44236)", r.hash_algo.as_str().into());
    line(
        "RAK hash algorithm (44240)",
        cmon_evidence::RAK_HASH_ALGO.into(),
    );
    line("profile (265)", cmon_evidence::REALM_PROFILE.into());
    line("RIM (44238)", hex(&r.rim[..n]));
    for (i, rem) in r.rems.iter().enumerate() {
        line(&format!("REM{} (44239[{i}])", i + 1), hex(&rem[..n]));
    }
    // decode_realm_claims already checked the §4.4 form.
    if let Ok((x, y)) = parse_cose_key_p384(&r.rak_pub_cose_key) {
        line("RAK public key (44237) x", hex(&x));
        line("RAK public key (44237) y", hex(&y));
    }
    s
}

fn render_platform(p: &PlatformClaims) -> String {
    let mut s = String::from("platform token claims:\n");
    let mut line = |k: &str, v: String| {
        let _ = writeln!(s, "  {k:<28} {v}");
    };
    line("profile (265)", p.profile.clone());
    line("challenge (10)", hex(&p.challenge));
    line("implementation id (2396)", hex(&p.implementation_id));
    line("instance id (256)", hex(&p.instance_id));
    line(
        "lifecycle (2395)",
        format!("{:#06x} ({})", p.lifecycle, lifecycle_name(p.lifecycle)),
    );
    line("config (2401)", hex(&p.config));
    line("hash algorithm (2402)", p.hash_algo_id.clone());
    if let Some(url) = &p.verification_service {
        line("verification service (2400)", url.clone());
    }
    let _ = writeln!(s, "  software components (2399): {}", p.sw_components.len());
    for (i, c) in p.sw_components.iter().enumerate() {
        let _ = writeln!(s, "    [{i}] type      {}", c.measurement_type);
        let _ = writeln!(s, "        value     {}", hex(&c.value));
        let version = c.version.as_deref().unwrap_or("(absent)");
        let _ = writeln!(s, "        version   {version}");
        let _ = writeln!(s, "        signer id {}", hex(&c.signer_id));
        let _ = writeln!(s, "        hash algo {}", c.hash_algo);
    }
    s
}

fn ev(what: &str, e: EvidenceError) -> String {
    format!("{what}: {e}")
}

/// Decode and check a CCA token collection.
///
/// - realm signature: with the RAK from realm claim 44237 (§4.2/§4.3);
/// - platform signature: with `platform_key` (the CPAK trust anchor), or
///   [`Status::Skipped`] without one;
/// - binding: platform claim 10 == SHA-256(claim 44237 bytes) (§4.6);
/// - platform profile == [`PLATFORM_PROFILE`] (§4.5);
/// - the `expected` reference values, where given.
pub fn verify_token(
    bytes: &[u8],
    platform_key: Option<&VerifyingKey>,
    expected: &Expected,
) -> TokenReport {
    let mut rep = TokenReport::default();
    let (platform_tok, realm_tok) = match parse_cca_token_collection(bytes) {
        Ok(t) => t,
        Err(e) => {
            rep.check(
                "token collection",
                Status::Fail,
                ev("tag-399 collection", e),
            );
            return rep;
        }
    };
    rep.check(
        "token collection",
        Status::Pass,
        format!(
            "tag 399, platform token {} bytes, realm token {} bytes",
            platform_tok.len(),
            realm_tok.len()
        ),
    );

    let realm = sign1_payload_unverified(&realm_tok)
        .and_then(|p| decode_realm_claims(&p))
        .map_err(|e| ev("realm token", e));
    let realm = match realm {
        Ok(r) => Some(r),
        Err(e) => {
            rep.check("realm claims", Status::Fail, e);
            None
        }
    };
    if let Some(r) = &realm {
        let sig = verifying_key_from_cose_key(&r.rak_pub_cose_key)
            .and_then(|rak| verify_es384(&realm_tok, &rak))
            .map(|_| "ES384, key = RAK from claim 44237".to_string())
            .map_err(|e| ev("realm COSE_Sign1", e));
        rep.result("realm signature", sig);
    }

    let platform = sign1_payload_unverified(&platform_tok)
        .and_then(|p| decode_platform_claims(&p))
        .map_err(|e| ev("platform token", e));
    let platform = match platform {
        Ok(p) => Some(p),
        Err(e) => {
            rep.check("platform claims", Status::Fail, e);
            None
        }
    };
    if let Some(p) = &platform {
        let profile = if p.profile == PLATFORM_PROFILE {
            Ok(p.profile.clone())
        } else {
            Err(format!("{:?}, expected {PLATFORM_PROFILE:?}", p.profile))
        };
        rep.result("platform profile", profile);
        match platform_key {
            Some(key) => {
                let sig = verify_es384(&platform_tok, key)
                    .map(|_| "ES384, key = platform JWK (CPAK)".to_string())
                    .map_err(|e| ev("platform COSE_Sign1", e));
                rep.result("platform signature", sig);
            }
            None => rep.check(
                "platform signature",
                Status::Skipped,
                "no platform key given (--key JWK): the platform token is NOT verified",
            ),
        }
    }

    if let (Some(r), Some(p)) = (&realm, &platform) {
        let want = rak_binding_challenge(&r.rak_pub_cose_key);
        let binding = if p.challenge == want {
            Ok("platform challenge == SHA-256(RAK COSE_Key)".to_string())
        } else {
            Err(format!(
                "platform challenge {} != SHA-256(RAK COSE_Key) {}",
                hex(&p.challenge),
                hex(&want)
            ))
        };
        rep.result("RAK binding", binding);
    }
    if let Some(r) = &realm {
        check_expected(&mut rep, r, expected);
    }
    rep.realm = realm;
    rep.platform = platform;
    rep
}

/// Compare the realm measurements with the reference values.
fn check_expected(rep: &mut TokenReport, r: &RealmClaims, expected: &Expected) {
    let n = r.hash_algo.digest_len();
    let cmp = |got: &[u8], want: &[u8]| {
        if got == want {
            Ok(format!("matches {}", hex(want)))
        } else {
            Err(format!("{} != expected {}", hex(got), hex(want)))
        }
    };
    if let Some(rim) = &expected.rim {
        rep.result("RIM", cmp(&r.rim[..n], rim));
    }
    if let Some(rems) = &expected.rems {
        let mut bad = Vec::new();
        for (i, (got, want)) in r.rems.iter().zip(rems).enumerate() {
            if got[..n] != want[..] {
                bad.push(format!("REM{}: {} != {}", i + 1, hex(&got[..n]), hex(want)));
            }
        }
        let res = if bad.is_empty() {
            Ok("REM1..REM4 match".to_string())
        } else {
            Err(bad.join("; "))
        };
        rep.result("REMs", res);
    }
}

#[cfg(test)]
#[path = "token_tests.rs"]
pub(crate) mod tests;
