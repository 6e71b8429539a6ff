//! CCA token claim sets: the realm claims (cca-attestation.md §4.3) and the
//! platform claims (§4.5). Each is the payload of its COSE_Sign1.

mod platform;
mod realm;

pub use platform::{
    PLATFORM_PROFILE, PlatformClaims, SwComponent, decode_platform_claims, encode_platform_claims,
    platform_key,
};
pub use realm::{
    MEASUREMENT_SLOT_LEN, RAK_HASH_ALGO, REALM_PROFILE, RealmClaims, RemHashAlgo,
    decode_realm_claims, encode_realm_claims, realm_key,
};
