//! The CCA platform attestation token that EL3 signs for the RMM
//! (RMM_ATTEST_GET_PLAT_TOKEN, rmm-el3-interface.md §5; claims
//! cca-attestation.md §4.5). Unlike TF-A's static QEMU sample, this token is
//! built over the RMM's real challenge (the RAK binding, §4.6) and signed
//! with the Platform Attestation Key derived from the device root secret.

extern crate alloc;

use alloc::string::String;
use alloc::vec;
use alloc::vec::Vec;
use cmon_evidence::{
    PLATFORM_PROFILE, PlatformClaims, SwComponent, cose_key_from_verifying_key,
    encode_platform_claims, sign_es384,
};
use cmon_keys::KeyHierarchy;
use sha2::{Digest, Sha256};

/// Identifies this implementation (claim 2396): SHA-256 of a fixed string
/// naming the monitor and platform. Verifiers key reference values off it.
const IMPLEMENTATION_LABEL: &[u8] = b"cmon EL3 monitor for QEMU virt (FEAT_RME), implementation 1";
/// PSA security lifecycle "secured" (0x3000..0x30FF). On QEMU the secret is a
/// development secret: the trust decision belongs to the verifier's anchor.
const LIFECYCLE_SECURED: u16 = 0x3000;
/// Verification service (claim 2400): where a relying party sends this
/// platform's evidence. There is no public service for a development
/// device, so the URL is under the reserved `.invalid` TLD (RFC 2606); the
/// verifier is `cargo xtask verify-token` with the platform JWK.
const VERIFICATION_SERVICE: &str = "https://verifier.cmon.invalid/cca";
/// Images are not signed in this firmware: there is no signing authority, so
/// the signer ID of every component is all-zero.
const NO_SIGNER: [u8; 32] = [0; 32];

/// What EL3 measured at boot.
#[derive(Debug, Clone, Copy)]
pub struct Measurements {
    pub el3: [u8; 32],
    pub rmm: [u8; 32],
}

fn component(kind: &str, value: &[u8; 32]) -> SwComponent {
    SwComponent {
        measurement_type: String::from(kind),
        value: value.to_vec(),
        version: Some(String::from(env!("CARGO_PKG_VERSION"))),
        signer_id: NO_SIGNER.to_vec(),
        hash_algo: String::from("sha-256"),
    }
}

/// Build and sign the platform token for `challenge` (32, 48 or 64 bytes).
pub fn build(keys: &KeyHierarchy, m: &Measurements, challenge: &[u8]) -> Option<Vec<u8>> {
    let cpak = keys.platform_attestation_key().ok()?;
    // Instance ID (claim 256): UEID type RAND (0x01) followed by the SHA-256
    // of the CPAK public key, so it identifies this device's key.
    let cpak_pub = cose_key_from_verifying_key(cpak.verifying_key());
    let mut instance_id = [0u8; 33];
    instance_id[0] = 0x01;
    instance_id[1..].copy_from_slice(&Sha256::digest(cpak_pub));
    let claims = PlatformClaims {
        profile: String::from(PLATFORM_PROFILE),
        challenge: challenge.to_vec(),
        implementation_id: Sha256::digest(IMPLEMENTATION_LABEL).into(),
        instance_id,
        config: vec![0; 4],
        lifecycle: LIFECYCLE_SECURED,
        hash_algo_id: String::from("sha-256"),
        verification_service: Some(String::from(VERIFICATION_SERVICE)),
        sw_components: vec![component("EL3", &m.el3), component("RMM", &m.rmm)],
    };
    Some(sign_es384(&cpak, encode_platform_claims(&claims)))
}
