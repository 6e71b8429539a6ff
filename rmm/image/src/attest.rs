//! Attestation bring-up at cold boot (as TF-RMM does, cca-attestation.md
//! §4.6 and §5): fetch the Realm Attestation Key from EL3, derive its public
//! key and COSE_Key, ask EL3 for the platform token over the binding
//! challenge SHA-256(COSE_Key), and keep both for realm tokens.

use crate::arch;
use cmon_evidence::{decode_platform_claims, sign1_payload_unverified};
use cmon_keys::Zeroizing;
use core::cell::UnsafeCell;
use core::sync::atomic::{AtomicUsize, Ordering};
use rmm::{Attestation, Rak};

const RMM_ATTEST_GET_REALM_KEY: u64 = 0xC400_01B2;
const RMM_ATTEST_GET_PLAT_TOKEN: u64 = 0xC400_01B3;
/// TF-RMM's default platform-token buffer (ATTEST_PLAT_TOKEN_SIZE).
pub const PLAT_TOKEN_MAX: usize = 0x1000;

/// The cached platform token (written once at cold boot).
struct TokenBuf(UnsafeCell<[u8; PLAT_TOKEN_MAX]>);
// SAFETY: written only during cold boot on one CPU, before `LEN` is
// published with Release; read-only afterwards.
unsafe impl Sync for TokenBuf {}
static TOKEN: TokenBuf = TokenBuf(UnsafeCell::new([0; PLAT_TOKEN_MAX]));
static LEN: AtomicUsize = AtomicUsize::new(0);

/// Result of the bring-up, for the boot log.
#[derive(Debug)]
pub struct Summary {
    pub token_len: usize,
    pub challenge: [u8; 32],
}

fn shared(pa: u64) -> &'static mut [u8; 4096] {
    // SAFETY: `pa` is the EL3 shared page, mapped RW (Realm PAS) by mmu.rs;
    // only the cold-boot CPU uses it during boot (the RMM serialises its
    // use, rmm-el3-interface.md §5 "shared-buffer rules").
    unsafe { &mut *(pa as *mut [u8; 4096]) }
}

/// Run the attestation bring-up and return what the monitor needs for
/// realm tokens. Errors name the step that failed.
pub fn init(shared_pa: u64) -> Result<(Attestation<'static>, Summary), &'static str> {
    let page = shared(shared_pa);
    // 1. The RAK: a raw P-384 scalar (curve 0) in the shared page.
    let r = arch::smc([RMM_ATTEST_GET_REALM_KEY, shared_pa, 4096, 0, 0, 0, 0, 0]);
    if r[0] != 0 || r[1] != 48 {
        return Err("RMM_ATTEST_GET_REALM_KEY failed");
    }
    let mut scalar = Zeroizing::new([0u8; 48]);
    scalar.copy_from_slice(&page[..48]);
    page[..48].fill(0); // the key must not linger in EL3-visible memory
    let rak = Rak::from_scalar(&scalar).map_err(|_| "RAK scalar invalid")?;
    drop(scalar);
    let challenge = rak.binding_challenge();

    // 2. The platform token over the binding challenge, in hunks.
    page[..32].copy_from_slice(&challenge);
    let mut c_size = 32;
    let mut len = 0usize;
    loop {
        let r = arch::smc([
            RMM_ATTEST_GET_PLAT_TOKEN,
            shared_pa,
            4096,
            c_size,
            0,
            0,
            0,
            0,
        ]);
        if r[0] != 0 {
            return Err("RMM_ATTEST_GET_PLAT_TOKEN failed");
        }
        let (hunk, remaining) = (r[1] as usize, r[2] as usize);
        if hunk > 4096 || len + hunk > PLAT_TOKEN_MAX {
            return Err("platform token larger than the RMM's buffer");
        }
        // SAFETY: cold boot, single writer (TokenBuf contract).
        let buf = unsafe { &mut *TOKEN.0.get() };
        buf[len..len + hunk].copy_from_slice(&page[..hunk]);
        len += hunk;
        c_size = 0;
        if remaining == 0 {
            break;
        }
    }
    page.fill(0);
    // Check the binding in what EL3 returned before caching it: the token's
    // challenge claim must be our SHA-256(RAK COSE_Key) (§4.6). A static or
    // stale token (as TF-A's QEMU sample) would make every realm token fail
    // verification, so it is refused here rather than handed to realms.
    // SAFETY: cold boot, single writer; `LEN` not yet published.
    let token: &[u8; PLAT_TOKEN_MAX] = unsafe { &*TOKEN.0.get() };
    let claims = sign1_payload_unverified(&token[..len])
        .and_then(|p| decode_platform_claims(&p))
        .map_err(|_| "platform token does not decode")?;
    if claims.challenge[..] != challenge[..] {
        return Err("platform token challenge is not the RAK binding");
    }
    LEN.store(len, Ordering::Release);
    let attest = Attestation::new(rak, platform_token())
        .map_err(|_| "platform token too large for realm tokens")?;
    Ok((
        attest,
        Summary {
            token_len: len,
            challenge,
        },
    ))
}

/// The cached platform token (empty before `init`).
pub fn platform_token() -> &'static [u8] {
    let len = LEN.load(Ordering::Acquire);
    // SAFETY: published by `init` and never written again.
    let buf: &[u8; PLAT_TOKEN_MAX] = unsafe { &*TOKEN.0.get() };
    &buf[..len]
}
