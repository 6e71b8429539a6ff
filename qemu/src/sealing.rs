//! Sealing keys across the boots of `cargo xtask test` (docs/sealing.md).
//!
//! Every aarch64 boot prints `SEALING-FINGERPRINT rim=<16 hex> rpv=<16 hex>`:
//! the first 8 bytes of SHA-256 of the realm guest's RIM-bound and
//! RPV-bound keys. The same guest image gets the same RIM with the same REC
//! count, so those boots must agree on the RIM key and boots with another
//! REC count must not; the RPV (all zero from this host) is the same in
//! every boot, so is the RPV key.

use std::collections::BTreeMap;

/// The fingerprints a boot printed: (RIM key, RPV key).
pub fn parse_fingerprints(console: &str) -> Option<(u64, u64)> {
    let line = console.lines().find_map(|l| {
        l.find("SEALING-FINGERPRINT ")
            .map(|i| &l[i + "SEALING-FINGERPRINT ".len()..])
    })?;
    let mut rim = None;
    let mut rpv = None;
    for field in line.split_whitespace() {
        if let Some(v) = field.strip_prefix("rim=") {
            rim = u64::from_str_radix(v, 16).ok();
        } else if let Some(v) = field.strip_prefix("rpv=") {
            rpv = u64::from_str_radix(v, 16).ok();
        }
    }
    Some((rim?, rpv?))
}

/// One boot: its REC count and what it printed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BootKeys {
    pub smp: u32,
    pub recs: usize,
    pub keys: Option<(u64, u64)>,
}

/// Judge the boots (a note on success, why on failure).
pub fn judge(boots: &[BootKeys]) -> Result<String, String> {
    let mut by_recs: BTreeMap<usize, Vec<(u32, u64)>> = BTreeMap::new();
    let mut rpv = None;
    for b in boots {
        let Some((r, p)) = b.keys else {
            return Err(format!("-smp {} printed no SEALING-FINGERPRINT", b.smp));
        };
        if *rpv.get_or_insert(p) != p {
            return Err(format!("RPV-bound key differs in the -smp {} boot", b.smp));
        }
        by_recs.entry(b.recs).or_default().push((b.smp, r));
    }
    for (recs, keys) in &by_recs {
        if keys.iter().any(|&(_, k)| k != keys[0].1) {
            return Err(format!(
                "RIM-bound key differs between boots with {recs} RECs"
            ));
        }
    }
    let firsts: Vec<u64> = by_recs.values().map(|v| v[0].1).collect();
    if firsts
        .iter()
        .enumerate()
        .any(|(i, k)| firsts[..i].contains(k))
    {
        return Err("realms with different RIMs got the same RIM-bound key".into());
    }
    Ok(format!(
        "{} boots: RIM key equal per REC count ({} RIMs), distinct across RIMs; one RPV key",
        boots.len(),
        by_recs.len()
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn boot(smp: u32, recs: usize, rim: u64, rpv: u64) -> BootKeys {
        BootKeys {
            smp,
            recs,
            keys: Some((rim, rpv)),
        }
    }

    #[test]
    fn parses_the_line_among_others() {
        let c = "x\nns-host | SEALING-FINGERPRINT rim=00000000000000ab rpv=ffffffffffffffff\n";
        assert_eq!(parse_fingerprints(c), Some((0xab, u64::MAX)));
        assert_eq!(parse_fingerprints("SEALING-FINGERPRINT rim=zz rpv=1"), None);
        assert_eq!(parse_fingerprints("nothing"), None);
    }

    #[test]
    fn judges_rim_and_rpv_policies() {
        let ok = [boot(4, 4, 1, 9), boot(1, 2, 2, 9), boot(2, 2, 2, 9)];
        assert!(judge(&ok).is_ok());
        assert!(
            judge(&[boot(4, 4, 1, 9), boot(1, 2, 1, 9)]).is_err(),
            "same key, other RIM"
        );
        assert!(
            judge(&[boot(1, 2, 2, 9), boot(2, 2, 3, 9)]).is_err(),
            "same RIM, other key"
        );
        assert!(
            judge(&[boot(1, 2, 2, 9), boot(2, 2, 2, 8)]).is_err(),
            "RPV key changed"
        );
        let missing = BootKeys {
            smp: 1,
            recs: 2,
            keys: None,
        };
        assert!(judge(&[missing]).is_err());
    }
}
