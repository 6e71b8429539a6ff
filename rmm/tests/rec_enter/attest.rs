//! RSI_ATTEST_TOKEN_INIT / CONTINUE (cca-attestation.md §4, §5) and the
//! vendor sealing-key RSI (docs/sealing.md) against the fake platform.
//!
//! Tokens are checked with the `cmon-evidence` decoders and the `p384`
//! verifier: both signatures, the binding, and every realm claim against
//! the RD.

use super::*;
use cmon_evidence::{
    PLATFORM_PROFILE, PlatformClaims, SIGN_STEPS, decode_platform_claims, decode_realm_claims,
    encode_platform_claims, parse_cca_token_collection, sign_es384, sign1_payload_unverified,
    verify_es384, verifying_key_from_cose_key,
};
use cmon_keys::{KeyHierarchy, KeyVersion, RootSecret};
use rmm::{Attestation, Platform, Rak};

const INIT: u64 = 0xC400_0194;
const CONTINUE: u64 = 0xC400_0195;
const SEAL_VERSIONS: u64 = 0xC600_0010;
const SEAL_KEY: u64 = 0xC600_0011;
const INCOMPLETE: u64 = 3;
const ERROR_STATE: u64 = 2;
const ERROR_UNKNOWN: u64 = 4;
/// The token buffer: DATA1 at IPA + 0x1000.
const BUF: u64 = IPA + 0x1000;
const CHALLENGE: [u64; 8] = [1, 2, 3, 4, 5, 6, 7, 0x0807_0605_0403_0201];

fn keys() -> KeyHierarchy {
    KeyHierarchy::new(RootSecret::new(&[0x42; 32]).unwrap(), KeyVersion(1))
}

/// A platform token as our EL3 makes it: over SHA-256(RAK COSE_Key),
/// signed by the CPAK.
fn platform_token(rak: &Rak) -> Vec<u8> {
    let claims = PlatformClaims {
        profile: PLATFORM_PROFILE.into(),
        challenge: rak.binding_challenge().to_vec(),
        implementation_id: [7; 32],
        instance_id: [1; 33],
        config: vec![0; 4],
        lifecycle: 0x3000,
        hash_algo_id: "sha-256".into(),
        verification_service: None,
        sw_components: vec![],
    };
    let cpak = keys().platform_attestation_key().unwrap();
    sign_es384(&cpak, encode_platform_claims(&claims))
}

fn rak() -> Rak {
    Rak::from_scalar(&keys().realm_attestation_key_scalar().unwrap()).unwrap()
}

fn with_attestation<'a>(rmm: Rmm<'a, FakePlatform>, token: &'a [u8]) -> Rmm<'a, FakePlatform> {
    rmm.with_attestation(Attestation::new(rak(), token).unwrap())
}

/// Realm x0..x4 after the `i`-th queued realm step's SMC.
fn result(f: &FakePlatform, i: usize) -> [u64; 5] {
    let g = f.realm_runs()[i].regs_in.gprs;
    [g[0], g[1], g[2], g[3], g[4]]
}

/// Verify a token fully and return its realm claims.
fn check_token(token: &[u8], rmm: &Rmm<'_, FakePlatform>) -> cmon_evidence::RealmClaims {
    let (platform, realm) = parse_cca_token_collection(token).expect("collection");
    let cpak = keys().platform_attestation_key().unwrap();
    let pclaims = decode_platform_claims(&verify_es384(&platform, cpak.verifying_key()).unwrap())
        .expect("platform claims");
    let claims = decode_realm_claims(&sign1_payload_unverified(&realm).unwrap()).unwrap();
    let rak = verifying_key_from_cose_key(&claims.rak_pub_cose_key).unwrap();
    verify_es384(&realm, &rak).expect("realm signature");
    assert_eq!(
        pclaims.challenge,
        cmon_evidence::rak_binding_challenge(&claims.rak_pub_cose_key).to_vec(),
        "binding"
    );
    let f = rmm.platform();
    assert_eq!(
        claims.rim.to_vec(),
        f.read_raw(PhysAddr(RD + 0x80), 64),
        "RIM"
    );
    for i in 0..4 {
        let rem = f.read_raw(PhysAddr(RD + 0xC0 + 64 * i as u64), 64);
        assert_eq!(claims.rems[i].to_vec(), rem, "REM {i}");
    }
    assert_eq!(claims.rpv, [0x5A; 64]);
    let mut ch = [0u8; 64];
    for (c, w) in ch.chunks_exact_mut(8).zip(CHALLENGE) {
        c.copy_from_slice(&w.to_le_bytes());
    }
    assert_eq!(claims.challenge, ch);
    claims
}

fn init_args() -> Vec<u64> {
    let mut a = vec![INIT];
    a.extend(CHALLENGE);
    a
}

#[test]
fn token_in_one_continue_verifies_and_matches_the_rd() {
    let env = Env::new();
    let ptoken = platform_token(&rak());
    let rmm = with_attestation(env.rmm(), &ptoken);
    setup(&rmm);
    let f = rmm.platform();
    push_smc(f, &[RSI_MEASUREMENT_EXTEND, 3, 4, 0xAABB_CCDD]);
    push_smc(f, &init_args());
    push_smc(f, &[CONTINUE, BUF, 0, 4096]);
    push_smc(f, &[CONTINUE, BUF, 0, 4096]); // nothing in flight any more
    assert_eq!(enter(&rmm, REC0, 0, &[]), SUCCESS);
    assert_eq!(result(f, 2)[..2], [SUCCESS, 4096], "INIT: size bound");
    let [s, len, ..] = result(f, 3);
    assert_eq!(s, SUCCESS, "CONTINUE finished in one call");
    assert_eq!(result(f, 4)[0], ERROR_STATE, "no token in flight");
    let token = f.read_raw(PhysAddr(DATA1), len as usize);
    let claims = check_token(&token, &rmm);
    assert_ne!(claims.rems[2], [0; 64], "REM[3] was extended");
    assert!(len > 700 && len < 4096, "token of {len} bytes");
}

#[test]
fn interrupted_signing_resumes_step_by_step_to_the_same_token() {
    let env = Env::new();
    let ptoken = platform_token(&rak());
    // Reference: one uninterrupted run.
    let reference = {
        let rmm = with_attestation(env.rmm(), &ptoken);
        setup(&rmm);
        let f = rmm.platform();
        push_smc(f, &init_args());
        push_smc(f, &[CONTINUE, BUF, 0, 4096]);
        assert_eq!(enter(&rmm, REC0, 0, &[]), SUCCESS);
        let len = result(f, 2)[1] as usize;
        f.read_raw(PhysAddr(DATA1), len)
    };
    let env2 = Env::new();
    let rmm = with_attestation(env2.rmm(), &ptoken);
    setup(&rmm);
    let f = rmm.platform();
    push_smc(f, &init_args());
    assert_eq!(enter(&rmm, REC0, 0, &[]), SUCCESS);
    f.set_irq_after(Some(0)); // an interrupt is pending from now on
    let mut irq_exits = 0;
    let mut chunks = Vec::new();
    loop {
        // Small pieces at varying offsets of the buffer page.
        let off = (chunks.len() as u64 * 8) % 256;
        push_smc(f, &[CONTINUE, BUF, off, 700]);
        let runs_before = f.realm_runs().len();
        assert_eq!(enter(&rmm, REC0, 0, &[]), SUCCESS);
        // Pre-empted: the RMM exited (IRQ) without running the realm again.
        let exits_irq = f.realm_runs().len() == runs_before + 1;
        if exits_irq {
            assert_eq!(exit_word(&rmm, 0), 1, "RMI_EXIT_IRQ");
            // The realm sees the CONTINUE's result at the next entry.
            push_smc(f, &[RSI_VERSION, 0x1_0000]);
            assert_eq!(enter(&rmm, REC0, 0, &[]), SUCCESS);
        }
        let [s, n, ..] = result(f, runs_before + 1);
        if exits_irq {
            assert_eq!([s, n], [INCOMPLETE, 0], "pre-empted: nothing written");
            irq_exits += 1;
            assert!(irq_exits < 2 * SIGN_STEPS, "signing makes progress");
            continue;
        }
        let piece = f.read_raw(PhysAddr(DATA1 + off), n as usize);
        chunks.extend(piece);
        if s == SUCCESS {
            break;
        }
        assert_eq!(s, INCOMPLETE);
    }
    // One exit after every step but the last, and one before the copy.
    assert_eq!(irq_exits, SIGN_STEPS, "one exit per signing step");
    assert_eq!(chunks, reference, "same bytes as the uninterrupted token");
    check_token(&chunks, &rmm);
}

#[test]
fn continue_checks_arguments_in_spec_order() {
    let env = Env::new();
    let ptoken = platform_token(&rak());
    let rmm = with_attestation(env.rmm(), &ptoken);
    setup(&rmm);
    let f = rmm.platform();
    push_smc(f, &[CONTINUE, BUF, 0, 64]); // state: no INIT yet
    push_smc(f, &init_args());
    let bad: [[u64; 3]; 6] = [
        [BUF + 8, 0, 64],      // addr_align
        [NS_IPA, 0, 64],       // addr_bound (unprotected)
        [NS_IPA + 8, 4096, 0], // addr_align first
        [BUF, 4096, 0],        // offset_bound
        [BUF, 8, u64::MAX],    // size_overflow
        [BUF, 4000, 97],       // size_bound
    ];
    for b in bad {
        push_smc(f, &[CONTINUE, b[0], b[1], b[2]]);
    }
    push_smc(f, &[CONTINUE, IPA + 0x3000, 0, 64]); // RIPAS EMPTY
    push_smc(f, &[CONTINUE, BUF, 0, 0]); // size 0: INCOMPLETE, nothing copied
    push_smc(f, &[CONTINUE, BUF, 0, 4096]);
    assert_eq!(enter(&rmm, REC0, 0, &[]), SUCCESS);
    assert_eq!(result(f, 1)[0], ERROR_STATE, "CONTINUE without INIT");
    for i in 0..6 {
        assert_eq!(result(f, 3 + i)[0], ERROR_INPUT, "bad case {i}");
    }
    assert_eq!(result(f, 9)[0], ERROR_INPUT, "EMPTY buffer");
    assert_eq!(result(f, 10)[..2], [INCOMPLETE, 0], "size 0");
    let [s, len, ..] = result(f, 11);
    assert_eq!(s, SUCCESS);
    check_token(&f.read_raw(PhysAddr(DATA1), len as usize), &rmm);
}

#[test]
fn unmapped_buffer_faults_to_the_host_and_the_call_is_retried() {
    let env = Env::new();
    let ptoken = platform_token(&rak());
    let rmm = with_attestation(env.rmm(), &ptoken);
    setup(&rmm);
    let f = rmm.platform();
    push_smc(f, &init_args());
    push_smc(f, &[CONTINUE, IPA + 0x2000, 0, 4096]); // RAM, not mapped
    assert_eq!(enter(&rmm, REC0, 0, &[]), SUCCESS);
    assert_eq!(exit_word(&rmm, 0), 0, "RMI_EXIT_SYNC");
    assert_eq!(
        exit_word(&rmm, 0x110),
        hpfar(IPA + 0x2000),
        "HPFAR names the page"
    );
    // The host maps the page; the realm re-executes the same SMC.
    delegate(&rmm, pool(42));
    assert_eq!(
        rmi(&rmm, DATA_CREATE_UNKNOWN, &[RD, pool(42), IPA + 0x2000]).x[0],
        SUCCESS
    );
    let runs = f.realm_runs().len();
    push_smc(f, &[CONTINUE, IPA + 0x2000, 0, 4096]);
    assert_eq!(enter(&rmm, REC0, 0, &[]), SUCCESS);
    assert_eq!(
        f.realm_runs()[runs].regs_in.gprs[0],
        CONTINUE,
        "PC was at the SMC"
    );
    let [s, len, ..] = result(f, runs + 1);
    assert_eq!(s, SUCCESS, "token written on the retry");
    let len = len as usize;
    check_token(&f.read_raw(PhysAddr(pool(42)), len), &rmm);
}

#[test]
fn without_attestation_material_init_is_error_unknown() {
    let env = Env::new();
    let rmm = env.rmm();
    setup(&rmm);
    let f = rmm.platform();
    push_smc(f, &init_args());
    push_smc(f, &[CONTINUE, BUF, 0, 64]);
    assert_eq!(enter(&rmm, REC0, 0, &[]), SUCCESS);
    assert_eq!(result(f, 1)[0], ERROR_UNKNOWN);
    assert_eq!(result(f, 2)[0], ERROR_STATE);
}

/// The key words of a successful CMON_RSI_SEALING_KEY.
fn seal(rmm: &Rmm<'_, FakePlatform>, flags: u64, version: u64) -> [u64; 5] {
    let f = rmm.platform();
    push_smc(f, &[SEAL_KEY, flags, version]);
    let runs = f.realm_runs().len();
    assert_eq!(enter(rmm, REC0, 0, &[]), SUCCESS);
    result(f, runs + 1)
}

#[test]
fn sealing_keys_follow_identity_policy_and_version() {
    let env = Env::new();
    let rmm = env.rmm();
    setup(&rmm);
    let f = rmm.platform();
    f.set_seal_versions(Some((1, 3)));
    push_smc(f, &[SEAL_VERSIONS]);
    assert_eq!(enter(&rmm, REC0, 0, &[]), SUCCESS);
    assert_eq!(result(f, 1)[..3], [SUCCESS, 1, 3]);
    let rim_v1 = seal(&rmm, 0, 1);
    assert_eq!(rim_v1[0], SUCCESS);
    assert_ne!(rim_v1[1..], [0; 4]);
    let rim_v3 = seal(&rmm, 0, 3);
    let rpv_v1 = seal(&rmm, 1, 1);
    assert_ne!(rim_v1[1..], rim_v3[1..], "versions give different keys");
    assert_ne!(rim_v1[1..], rpv_v1[1..], "policies give different keys");
    assert_eq!(seal(&rmm, 0, 4), [ERROR_INPUT, 0, 0, 0, 0], "above current");
    assert_eq!(seal(&rmm, 0, 0), [ERROR_INPUT, 0, 0, 0, 0], "retired");
    assert_eq!(seal(&rmm, 2, 1), [ERROR_INPUT, 0, 0, 0, 0], "RES0 flag");
    assert_eq!(seal(&rmm, 0, 1 << 32 | 1)[0], ERROR_INPUT, "wide version");

    // Another "boot" of the same device and the same realm: same keys.
    let env2 = Env::new();
    let rmm2 = env2.rmm();
    setup(&rmm2);
    rmm2.platform().set_seal_versions(Some((1, 3)));
    assert_eq!(seal(&rmm2, 0, 1), rim_v1);
    assert_eq!(seal(&rmm2, 1, 1), rpv_v1);

    // The RIM key is exactly the platform's key for this RIM.
    let rim = f.read_raw(PhysAddr(RD + 0x80), 32);
    let expected = rmm2
        .platform()
        .sealing_key(rmm::SealPolicy::Rim, &rim, 1)
        .unwrap();
    let words: Vec<u8> = rim_v1[1..].iter().flat_map(|w| w.to_le_bytes()).collect();
    assert_eq!(words, expected);

    // Realms with measured images: a one-byte change to the image changes
    // the RIM key only; another RPV changes the RPV key only (the RPV is not
    // measured, cca-attestation.md §2.1).
    let keys_of = |image: &[u8; 4096], rpv: u8| {
        let env = Env::new();
        let rmm = env.rmm();
        let cfg = RealmCfg {
            rpv: [rpv; 64],
            ..RealmCfg::default()
        };
        active_realm_cfg(&rmm, image, 0, &cfg, 1);
        (seal(&rmm, 0, 1), seal(&rmm, 1, 1))
    };
    let mut image = [0x11u8; 4096];
    let (rim_a, rpv_a) = keys_of(&image, 0x5A);
    assert_eq!(
        keys_of(&image, 0x5A),
        (rim_a, rpv_a),
        "same image, same keys"
    );
    image[4095] ^= 1;
    let (rim_b, rpv_b) = keys_of(&image, 0x5A);
    assert_ne!(
        rim_a[1..],
        rim_b[1..],
        "one byte of the image changes the RIM key"
    );
    assert_eq!(rpv_a, rpv_b, "the RPV key does not depend on the image");
    let (rim_c, rpv_c) = keys_of(&image, 0x5B);
    assert_eq!(rim_b, rim_c, "the RIM key does not depend on the RPV");
    assert_ne!(rpv_b[1..], rpv_c[1..], "another RPV changes the RPV key");

    rmm.platform().set_seal_versions(None);
    assert_eq!(seal(&rmm, 0, 1)[0], ERROR_UNKNOWN, "no sealing service");
}

#[test]
fn destroyed_buffer_is_error_input_and_the_token_survives() {
    let env = Env::new();
    let ptoken = platform_token(&rak());
    let rmm = with_attestation(env.rmm(), &ptoken);
    setup(&rmm);
    let f = rmm.platform();
    // DATA1 (IPA + 0x1000) destroyed: RIPAS DESTROYED.
    let d = rmi(&rmm, DATA_DESTROY, &[RD, BUF]);
    assert_eq!(d.x[0], SUCCESS);
    push_smc(f, &init_args());
    push_smc(f, &[CONTINUE, BUF, 0, 4096]); // DESTROYED
    push_smc(f, &[CONTINUE, IPA, 0x800, 0x800]); // DATA0, second half
    assert_eq!(enter(&rmm, REC0, 0, &[]), SUCCESS);
    assert_eq!(result(f, 2)[0], ERROR_INPUT, "DESTROYED buffer");
    let [s, len, ..] = result(f, 3);
    assert_eq!(s, SUCCESS, "the same token, to another page");
    check_token(&f.read_raw(PhysAddr(DATA0 + 0x800), len as usize), &rmm);
}

#[test]
fn sha512_realm_token_carries_64_byte_measurements() {
    let env = Env::new();
    let ptoken = platform_token(&rak());
    let rmm = with_attestation(env.rmm(), &ptoken);
    let cfg = RealmCfg {
        hash_algo: 1,
        ..RealmCfg::default()
    };
    active_realm_cfg(&rmm, &[0x33; 4096], 0, &cfg, 1);
    delegate(&rmm, pool(41));
    let f = rmm.platform();
    push_smc(f, &[RSI_MEASUREMENT_EXTEND, 4, 64, 1, 2, 3, 4, 5, 6, 7, 8]);
    push_smc(f, &init_args());
    push_smc(f, &[CONTINUE, BUF, 0, 4096]);
    assert_eq!(enter(&rmm, REC0, 0, &[]), SUCCESS);
    let [s, len, ..] = result(f, 3);
    assert_eq!(s, SUCCESS);
    let claims = check_token(&f.read_raw(PhysAddr(DATA1), len as usize), &rmm);
    assert_eq!(claims.hash_algo, cmon_evidence::RemHashAlgo::Sha512);
    assert_ne!(claims.rim[32..], [0; 32], "a 64-byte RIM");
    assert_ne!(claims.rems[3][32..], [0; 32], "a 64-byte REM4");
}
