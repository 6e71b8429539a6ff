//! RMI_REC_ENTER, the exit classification, RSI and realm PSCI against the
//! fake platform's scripted `run_realm` (cca-rmm-abi.md §4.3, §8, §9,
//! §10; cca-attestation.md §3).

mod attest;
#[path = "../common/mod.rs"]
mod common;
mod entry;
mod exits;
mod rsi_psci;

use cmon_measure::{HashAlgo, MeasurementRegister};
use common::*;
use fake_platform::FakePlatform;
use rmm::platform::{ExitKind, RealmExit};
use rmm::rec::{SysReg, layout};
use rmm::{GranuleState, PhysAddr, RmiFid, Rmm};

const IPA: u64 = ACTIVE_IPA;
/// First unprotected IPA (s2sz 40).
const NS_IPA: u64 = 1 << 39;
const REC_ENTER: u64 = RmiFid::RecEnter as u64;
const PSCI_COMPLETE: u64 = RmiFid::PsciComplete as u64;
const ERROR_REC: u64 = 3;

const EMUL_MMIO: u64 = 1;
const INJECT_SEA: u64 = 2;
const TRAP_WFI: u64 = 4;

const VBAR: u64 = 0x9_0000;

/// RSI / PSCI FIDs.
const RSI_VERSION: u64 = 0xC400_0190;
const RSI_MEASUREMENT_READ: u64 = 0xC400_0192;
const RSI_MEASUREMENT_EXTEND: u64 = 0xC400_0193;
const RSI_REALM_CONFIG: u64 = 0xC400_0196;
const RSI_IPA_STATE_GET: u64 = 0xC400_0198;
const RSI_HOST_CALL: u64 = 0xC400_0199;

/// Active realm at RD: L2/L3 RTTs at IPA; RIPAS RAM for IPA..IPA+0x3000;
/// DATA0 at IPA and DATA1 at IPA+0x1000 (the host-call structure at
/// IPA+0x100: imm 0x1234, gprs 0x5000+i); IPA+0x2000 RAM but unmapped,
/// IPA+0x3000 EMPTY. REC0 runnable, REC1 not. A second realm NEW_RD stays
/// NEW with one REC.
fn setup(rmm: &Rmm<'_, FakePlatform>) {
    let mut image = [0u8; 4096];
    image[0x100..0x108].copy_from_slice(&0x1234u64.to_le_bytes());
    for i in 0..31u64 {
        let off = 0x108 + 8 * i as usize;
        image[off..off + 8].copy_from_slice(&(0x5000 + i).to_le_bytes());
    }
    active_realm(rmm, &image, 0);
    delegate(rmm, pool(41)); // a Realm-PAS run page
}

/// RecRun.enter image.
fn enter_bytes(flags: u64, gprs: &[u64], hcr: u64, lrs: &[u64]) -> Vec<u8> {
    let mut b = vec![0u8; 0x800];
    let mut put = |off: usize, v: u64| b[off..off + 8].copy_from_slice(&v.to_le_bytes());
    put(0, flags);
    for (i, g) in gprs.iter().enumerate() {
        put(0x200 + 8 * i, *g);
    }
    put(0x300, hcr);
    for (i, l) in lrs.iter().enumerate() {
        put(0x308 + 8 * i, *l);
    }
    b
}

/// Write RecRun.enter and call REC_ENTER(rec, RUN).
fn enter(rmm: &Rmm<'_, FakePlatform>, rec: u64, flags: u64, gprs: &[u64]) -> u64 {
    rmm.platform()
        .host_write(PhysAddr(RUN), &enter_bytes(flags, gprs, 0, &[]))
        .unwrap();
    rmi(rmm, REC_ENTER, &[rec, RUN]).x[0]
}

fn exit_gprs(rmm: &Rmm<'_, FakePlatform>) -> Vec<u64> {
    (0..31).map(|i| exit_word(rmm, 0x200 + 8 * i)).collect()
}

fn rec_word(rmm: &Rmm<'_, FakePlatform>, rec: u64, w: usize) -> u64 {
    rmm.platform().read_word(PhysAddr(rec), w)
}

type Mutate = fn(&mut [u64; 2], &mut Vec<u8>);
