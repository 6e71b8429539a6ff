//! RECs (Realm Execution Contexts).

/// RMI_REC_AUX_COUNT result: auxiliary granules per REC. A constant for
/// every realm (TF-RMM uses 16, `MAX_REC_AUX_GRANULES`, the most the spec
/// allows); they are reserved for per-REC state too large for the REC
/// granule (SIMD/SVE, PMU, attestation heap) once REC_ENTER exists.
pub const REC_AUX_COUNT: usize = 16;
