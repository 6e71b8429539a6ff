//! RMM -> EL3 attestation services (rmm-el3-interface.md §5) and the device
//! key hierarchy they draw from.
//!
//! Device root secret on QEMU: there are no fuses, so the development root
//! secret is an entry of the firmware package in *secure* flash (id 3,
//! generated once per checkout by `cargo xtask build` into
//! `target/dev-root-secret.bin`). Secure flash is not visible to the NS or
//! Realm worlds, and the secret is never copied into the RMM: the RMM only
//! receives the derived Realm Attestation Key. Development only: anyone with
//! the build tree has the secret.

use crate::layout::RMM_SHARED_PAGE;
use crate::package::{self, ImageId};
extern crate alloc;

use crate::plat_token::{self, Measurements};
use crate::smc::{E_RMM_BAD_ADDR, E_RMM_INVAL, E_RMM_OK, E_RMM_UNK};
use alloc::vec::Vec;
use arm_rt::sync::SpinLock;
use cmon_keys::{KeyError, KeyHierarchy, KeyVersion, RootSecret, SealingIdentity, SealingRequest};

/// Current sealing/attestation key version of this platform.
pub const KEY_VERSION: KeyVersion = KeyVersion(1);

static KEYS: SpinLock<Option<KeyHierarchy>> = SpinLock::new(None);

/// Set up the key hierarchy from the package's development root secret.
pub fn init() -> Result<(), &'static str> {
    let e = package::find(ImageId::DevRootSecret)?;
    let root = RootSecret::new(package::bytes(&e))
        .map_err(|_| "device root secret must be 32..=64 bytes")?;
    let keys = KeyHierarchy::new(root, KEY_VERSION)
        .with_minimum_version(KEY_VERSION)
        .map_err(|_| "key version window")?;
    *KEYS.lock() = Some(keys);
    Ok(())
}

/// `[buf, buf + len)` must lie in the shared page: BAD_ADDR if `buf` is not
/// in it, INVAL if the range runs past its end (§5 error table).
fn shared_range(buf: u64, len: u64) -> Result<(), u64> {
    let end = RMM_SHARED_PAGE + 0x1000;
    if !(RMM_SHARED_PAGE..end).contains(&buf) {
        return Err(E_RMM_BAD_ADDR);
    }
    match buf.checked_add(len) {
        Some(e) if e <= end => Ok(()),
        _ => Err(E_RMM_INVAL),
    }
}

fn read_shared(buf: u64, out: &mut [u8]) {
    // SAFETY: callers checked [buf, buf+len) lies in the shared page (Realm
    // PAS, mapped by EL3); copied in once before use (no double fetch).
    let src = unsafe { core::slice::from_raw_parts(buf as *const u8, out.len()) };
    out.copy_from_slice(src);
}

fn write_shared(buf: u64, data: &[u8]) {
    // SAFETY: callers checked [buf, buf+len) lies in the shared page, which
    // EL3 maps read-write with Realm PAS for its whole life.
    let dst = unsafe { core::slice::from_raw_parts_mut(buf as *mut u8, data.len()) };
    dst.copy_from_slice(data);
}

/// RMM_ATTEST_GET_REALM_KEY(buf, size, curve): the raw P-384 RAK scalar.
pub fn get_realm_key(buf: u64, size: u64, curve: u64) -> (u64, u64) {
    if let Err(e) = shared_range(buf, size) {
        return (e, 0);
    }
    if curve != 0 || size < 48 {
        return (E_RMM_INVAL, 0);
    }
    let keys = KEYS.lock();
    let Some(scalar) = keys
        .as_ref()
        .and_then(|k| k.realm_attestation_key_scalar().ok())
    else {
        return (crate::smc::SMC_UNKNOWN, 0);
    };
    write_shared(buf, &scalar[..]);
    (E_RMM_OK, 48)
}

/// Platform token being handed out in hunks.
struct TokenState {
    token: Vec<u8>,
    sent: usize,
}

static TOKEN: SpinLock<Option<TokenState>> = SpinLock::new(None);
static MEASUREMENTS: SpinLock<Option<Measurements>> = SpinLock::new(None);

/// Record the boot measurements that go into the platform token.
pub fn set_measurements(m: Measurements) {
    *MEASUREMENTS.lock() = Some(m);
}

/// RMM_ATTEST_GET_PLAT_TOKEN(buf, size, c_size) -> (x0, hunk size, remaining).
///
/// A non-zero `c_size` (32, 48 or 64) starts a new token over the challenge
/// at `buf`; later calls with `c_size` = 0 fetch the next hunk into `buf`
/// until `remaining` is 0 (rmm-el3-interface.md §5).
pub fn get_plat_token(buf: u64, size: u64, c_size: u64) -> (u64, u64, u64) {
    if let Err(e) = shared_range(buf, size.max(c_size)) {
        return (e, 0, 0);
    }
    let mut state = TOKEN.lock();
    match c_size {
        0 => {}
        32 | 48 | 64 => {
            let mut challenge = [0u8; 64];
            let n = c_size as usize;
            read_shared(buf, &mut challenge[..n]);
            let keys = KEYS.lock();
            let m = *MEASUREMENTS.lock();
            let token = match (keys.as_ref(), m) {
                (Some(k), Some(m)) => plat_token::build(k, &m, &challenge[..n]),
                _ => None,
            };
            let Some(token) = token else {
                return (E_RMM_UNK, 0, 0);
            };
            *state = Some(TokenState { token, sent: 0 });
        }
        _ => return (E_RMM_INVAL, 0, 0),
    }
    let Some(st) = state.as_mut() else {
        return (E_RMM_INVAL, 0, 0);
    };
    let rest = &st.token[st.sent..];
    let hunk = rest.len().min(size as usize);
    write_shared(buf, &rest[..hunk]);
    st.sent += hunk;
    let remaining = (st.token.len() - st.sent) as u64;
    (E_RMM_OK, hunk as u64, remaining)
}

/// CMON_SIP_SEALING_VERSIONS / CMON_SIP_SEALING_KEY (docs/sealing.md): the
/// RMM's vendor sealing service. Status values of the key call.
pub const SEAL_OK: u64 = 0;
/// Bad policy or identity length.
pub const SEAL_INVALID: u64 = -2i64 as u64;
/// Version above the current one.
pub const SEAL_VERSION_TOO_NEW: u64 = -3i64 as u64;
/// Version below the minimum (retired).
pub const SEAL_VERSION_RETIRED: u64 = -4i64 as u64;

/// `(minimum, current)` sealing key versions.
pub fn sealing_versions() -> Option<(u32, u32)> {
    let keys = KEYS.lock();
    let k = keys.as_ref()?;
    Some((k.minimum_version().get(), k.current_version().get()))
}

/// A sealing key for `policy` (0 RIM, 1 RPV), `version` and the identity
/// in `words` (little-endian, `len` bytes): `(status, key words)`.
pub fn sealing_key(policy: u64, version: u64, len: u64, words: &[u64; 8]) -> (u64, [u64; 4]) {
    let mut identity = [0u8; 64];
    for (c, w) in identity.chunks_exact_mut(8).zip(words) {
        c.copy_from_slice(&w.to_le_bytes());
    }
    let Some(id) = identity.get(..len as usize).filter(|b| !b.is_empty()) else {
        return (SEAL_INVALID, [0; 4]);
    };
    let identity = match policy {
        0 => SealingIdentity::CcaRim(id),
        1 => SealingIdentity::CcaRpv(id),
        _ => return (SEAL_INVALID, [0; 4]),
    };
    let Ok(version) = u32::try_from(version) else {
        return (SEAL_VERSION_TOO_NEW, [0; 4]);
    };
    let keys = KEYS.lock();
    let Some(k) = keys.as_ref() else {
        return (E_RMM_UNK, [0; 4]);
    };
    let req = SealingRequest {
        identity,
        version: KeyVersion(version),
    };
    match k.sealing_key(&req) {
        Ok(key) => {
            let mut out = [0u64; 4];
            for (o, c) in out.iter_mut().zip(key.as_bytes().chunks_exact(8)) {
                let mut b = [0u8; 8];
                b.copy_from_slice(c);
                *o = u64::from_le_bytes(b);
            }
            (SEAL_OK, out)
        }
        Err(KeyError::VersionTooNew { .. }) => (SEAL_VERSION_TOO_NEW, [0; 4]),
        Err(KeyError::VersionRetired { .. }) => (SEAL_VERSION_RETIRED, [0; 4]),
        Err(_) => (SEAL_INVALID, [0; 4]),
    }
}
