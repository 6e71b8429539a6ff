//! The `--help` texts of `cargo xtask` and its subcommands.

use crate::cli::Sub;

pub const MAIN_HELP: &str = "\
cargo xtask: build the Arm CCA firmware and the x86 TDX module shim and boot
them on QEMU

USAGE:
    cargo xtask <COMMAND> [OPTIONS]

COMMANDS:
    build    Build qemu-virt-el3, rmm-image and ns-host, convert them to flat
             binaries and write the flash package target/images/qemu-virt-bios.bin
    size     Build, then print .text/.rodata/.data/.bss sizes of each firmware ELF
    run      Build and boot once on QEMU; prints RUN PASSED or RUN FAILED: <why>
             (`--arch x86_64`: the TDX module shim on q35)
    test     Host tests (`cargo test`) plus QEMU test boots (aarch64 -smp 4,
             -smp 1, -m 3G; x86_64 q35 -smp 2)
    bench    Build and boot in bench mode (-smp 1, -icount); print BENCH results
             (`--arch x86_64`: SEAMCALL timings of the TDX module shim)
    lint     cargo clippy -D warnings on the host crates and the firmware crates
             (Arm and x86)
    verify-token
             Decode a CCA attestation token (tag-399 CBOR), print its claims and
             check both signatures and the RAK binding
    mrtd     Compute offline the MRTD a TD built from a TD image gets
    rim      Compute offline the RIM a realm built from a flat guest image gets
    help     Print this text, or `cargo xtask help <COMMAND>`

OPTIONS:
    -h, --help    Print help (also after a command: `cargo xtask run --help`)

QEMU: qemu-system-aarch64 and (for x86_64) qemu-system-x86_64 >= 8.2 are
required (found on PATH or via --qemu); both versions are checked. If one is
missing on Debian bookworm and we are root (or have passwordless sudo),
run/test/bench install qemu-system-arm and qemu-system-x86 from
bookworm-backports.

Exit status of run/test/bench: 0 = passed; for run, the firmware's status
when it failed (1..=89 failed checks, 90 EL3 / 91 RMM / 92 NS host / 93 x86
shim fatal error); 124 = QEMU timed out; 1 = other failure; 2 = bad command
line.
";

pub const BUILD_HELP: &str = "\
cargo xtask build: build the firmware and the QEMU flash package

USAGE:
    cargo xtask build

Runs `cargo build --profile firmware --target aarch64-unknown-none-softfloat
-p qemu-virt-el3 -p rmm-image -p ns-host` into <workspace>/target, converts each
ELF with llvm-objcopy (rustup component llvm-tools) and writes:
    target/images/qemu-virt-el3.bin   EL3 monitor (flat, linked at 0x0)
    target/images/rmm.bin             RMM (flat, linked at 0x4010_0000)
    target/images/ns-host.bin         NS test host (flat, linked at 0x6000_0000)
    target/images/qemu-virt-bios.bin  flash package for QEMU -bios
Then prints the image sizes and the package layout.

OPTIONS:
    -h, --help    Print this help
";

pub const SIZE_HELP: &str = "\
cargo xtask size: section sizes of each firmware ELF

USAGE:
    cargo xtask size

Builds the firmware crates (no-op when up to date), then prints a table of
the .text, .rodata, .data and .bss sizes (including .text.* etc.), other
allocated sections, and the flash/RAM totals of each ELF.

OPTIONS:
    -h, --help    Print this help
";

pub const LINT_HELP: &str = "\
cargo xtask lint: clippy with warnings denied, everywhere

USAGE:
    cargo xtask lint

Runs `cargo clippy --all-targets -- -D warnings` for the host crates (the
workspace default members), then `cargo clippy --profile firmware --target
aarch64-unknown-none-softfloat -p qemu-virt-el3 -p rmm-image -p ns-host --
-D warnings` for the firmware and its path dependencies (arm-rt, rmm,
core/*), then `cargo clippy --profile firmware --target x86_64-unknown-none
-p tdx-shim-image -p qemu-q35 -- -D warnings` for the x86 TDX module shim.
Fails on the first warning.

OPTIONS:
    -h, --help    Print this help
";

pub const RUN_HELP: &str = "\
cargo xtask run: build and boot the firmware once on QEMU

USAGE:
    cargo xtask run [--arch aarch64|x86_64] [--smp N] [--gdb] [--icount]
                    [--timeout SECS] [--qemu PATH] [--bios PATH]

Streams QEMU's output live and ends with `RUN PASSED` or `RUN FAILED: <why>`.
Passes only if the firmware reports success (aarch64: QEMU exit status 0;
x86_64: status 33, i.e. 0x10 written to isa-debug-exit) and a summary line
`N passed, 0 failed` with N > 0 was printed.

CCA token (aarch64): after a passing boot, a token the NS host printed as
`CCA-TOKEN-HEX <hex>` lines and a `CCA-TOKEN-END <length>` line is written
to target/attestation/cca-token.cbor, the platform key (CPAK from
target/dev-root-secret.bin) to target/attestation/platform-key.jwk.json, and
the token is verified (as `cargo xtask verify-token --key`, plus the RIM of
the realm guest); a token that does not verify fails the run. No token: a
note only (docs/attestation.md).

aarch64 (default): builds target/images/qemu-virt-bios.bin (see `cargo xtask
help build`) and boots
    qemu-system-aarch64 -M virt,secure=on,virtualization=on,gic-version=3
      -cpu max,x-rme=on,pauth-impdef=on -m 1G -smp N -nographic -semihosting
      -bios target/images/qemu-virt-bios.bin

x86_64: runs `cargo build --profile firmware --target x86_64-unknown-none
-p tdx-shim-image`, converts the ELF with llvm-objcopy -O binary, zero-pads
it at the front to a multiple of 64 KiB (QEMU maps a -bios image so that it
ends at 4 GiB; the reset vector is its last 16 bytes), writes
target/images/q35-tdx-shim.bin and boots
    qemu-system-x86_64 -machine q35 -nographic -bios target/images/q35-tdx-shim.bin
      -device isa-debug-exit,iobase=0xf4,iosize=0x04 -smp N
The shim reports through isa-debug-exit: QEMU status 33 = passed, 35 = checks
failed (the summary gives the count), 37 = unexpected exception or panic
(xtask exit status 93).

OPTIONS:
    --arch ARCH       aarch64 (Arm CCA, default) or x86_64 (TDX module shim)
    --smp N           Number of CPUs (-smp), 1..=8 [default: 4 for aarch64,
                      2 for x86_64]
    --gdb             Start QEMU halted with a GDB server on :1234 (-s -S) and
                      print how to attach; no timeout unless --timeout is given
    --icount          Add `-icount shift=0,sleep=off` (deterministic: one
                      virtual ns per instruction; identical output per run)
    --timeout SECS    Kill QEMU after SECS seconds of wall clock and fail with
                      `QEMU timed out`; 0 = no limit [default: 120]
    --qemu PATH       Use this qemu-system-aarch64 (or qemu-system-x86_64 with
                      --arch x86_64) instead of the one on PATH (never
                      auto-installed)
    --bios PATH       Boot this image instead of building one
    -h, --help        Print this help

Exit status: 0 passed; the firmware's status when non-zero (1..=89 failed
checks, 90 EL3 / 91 RMM / 92 NS host / 93 x86 shim fatal error); 124 timed
out; 1 other failure.
";

pub const TEST_HELP: &str = "\
cargo xtask test: host tests and QEMU test boots

USAGE:
    cargo xtask test [--host-only | --qemu-only] [--timeout SECS] [--qemu PATH]
                     [--bios PATH]

Steps: (1) `cargo test` at the workspace root (the default members);
(2) build the Arm firmware, boot with -smp 4 -m 1G, (3) -smp 1 -m 1G,
(4) -smp 2 -m 3G (a GPT with several L1 tables); (5) build the x86 TDX
module shim and boot it on q35 with -smp 2 (as `cargo xtask run --arch
x86_64`). Each boot is judged like `cargo xtask run`, including the CCA
token check; the aarch64 boots also check the token with
tests/attestation/verify_cca_token.py (pycose) from a venv at target/pyenv,
created on first use with pinned pycose, cbor2 and cryptography from PyPI
(installing python3-venv via apt-get as root if needed). A build that fails
fails only the steps of its architecture. Ends with `xtask: N passed, M
failed` over the steps and exits non-zero if any step failed or timed out.

OPTIONS:
    --host-only       Run only the host tests
    --qemu-only       Run only the QEMU boots
    --timeout SECS    Wall-clock limit per QEMU boot; 0 = no limit [default: 120]
    --qemu PATH       Use this qemu-system-aarch64 for the aarch64 boots (never
                      auto-installed; the x86 step uses qemu-system-x86_64
                      from PATH)
    --bios PATH       Boot this Arm flash package instead of building one (the
                      x86 step always builds its image)
    -h, --help        Print this help
";

pub const BENCH_HELP: &str = "\
cargo xtask bench: boot in bench mode and report the BENCH lines

USAGE:
    cargo xtask bench [--arch aarch64|x86_64] [--iters N] [--check]
                      [--timeout SECS] [--qemu PATH] [--bios PATH]

Boots with -smp 1 and `-icount shift=0,sleep=off` (deterministic: one tick per
instruction, identical lines from run to run), prints every
`BENCH <name> median=<N> min=<N> iters=<N>` line as a table and compares the
medians with their budgets (OK/OVER; `-` where none is set). Fails if QEMU
fails or no BENCH line is seen.

aarch64 (default): run mode 1 (bench) in the loader word at 0x5FFFF000; the NS
host times RMI/PSCI round trips and the realm lifecycle with CNTVCT. Budgets:
rmi_version 700, granule_delegate 1500, granule_undelegate 1500, realm_create
60000, rec_create 60000, data_create_measured 40000, rtt_init_ripas_512 750000,
rec_enter_host_call 7800.

x86_64: builds target/images/q35-tdx-shim.bin (as `run --arch x86_64`) and
selects bench mode with a fw_cfg string the shim reads through QEMU's fw_cfg
device:
    -fw_cfg name=opt/cmon/mode,string=bench [-fw_cfg name=opt/cmon/iters,string=N]
The shim brings the TDX module up from its ring-3 VMM harness, then times real
SEAMCALLs with RDTSC at CPL 3 (every sample includes 11 harness instructions):
    seamcall_sys_rd       round trip of TDH.SYS.RD (MAJOR_VERSION), a trivial leaf
    seamcall_undef_leaf   round trip of undefined leaf 99 (-> OPERAND_INVALID)
    tdh_mem_page_add      TDH.MEM.PAGE.ADD of one 4 KiB page
    tdh_mr_extend_chunk   TDH.MR.EXTEND of one 256-byte chunk (16 x N samples)
    tdh_mr_extend_page    the 16 MR.EXTENDs of one page
    td_build              MNG.CREATE .. MR.FINALIZE (one page, 16 MR.EXTENDs)
    td_teardown           VPFLUSHDONE .. PAGE.RECLAIM of every page, PAGE.WBINVD
No budgets are set for x86 (`-`). The shim ends with isa-debug-exit: QEMU status
33 = done, 35 = a SEAMCALL returned a wrong status, 37 = fatal error.

OPTIONS:
    --arch ARCH       aarch64 (RMM benchmarks, default) or x86_64 (TDX shim)
    --iters N         Iterations per benchmark [default: firmware default, 101;
                      at most 1001]. aarch64: written to the loader word at
                      0x5FFFF004; x86_64: the fw_cfg file opt/cmon/iters
    --check           Make a median over its budget (OVER) an error
    --timeout SECS    Wall-clock limit for the boot; 0 = no limit [default: 120]
    --qemu PATH       Use this qemu-system-aarch64 (qemu-system-x86_64 with
                      --arch x86_64; never auto-installed)
    --bios PATH       Boot this flash package (or q35 image) instead of building
                      one
    -h, --help        Print this help
";

pub const VERIFY_TOKEN_HELP: &str = "\
cargo xtask verify-token: decode and verify a CCA attestation token

USAGE:
    cargo xtask verify-token FILE [--key JWK]

FILE holds a CCA token collection (CBOR tag 399 with a platform and a realm
COSE_Sign1; `cargo xtask run` writes the one it captures to
target/attestation/cca-token.cbor). Prints the realm claims (challenge, RPV,
RIM, REM1..4, hash algorithms, profile, RAK x/y) and the platform claims
(profile, challenge, implementation and instance id, lifecycle, config, hash
algorithm, verification service, software components), then PASS/FAIL for:
    realm signature      ES384 with the RAK carried in realm claim 44237
    platform signature   ES384 with the key of --key; without --key it is
                         reported as NOT CHECKED and the output says the
                         platform token was NOT verified
    RAK binding          platform challenge == SHA-256(claim 44237 bytes)
    platform profile     tag:arm.com,2023:cca_platform#1.0.0
Ends with TOKEN VERIFIED, TOKEN PASSED (platform signature not verified) or
TOKEN FAILED: <checks>.

OPTIONS:
    --key JWK     EC P-384 public JWK of the platform key (CPAK), e.g.
                  target/attestation/platform-key.jwk.json, which `run` and
                  `test` derive from target/dev-root-secret.bin
    -h, --help    Print this help

Exit status: 0 if no check failed, 1 if one did or the file is unreadable.
";

pub const RIM_HELP: &str = "\
cargo xtask rim: compute the RIM of a realm offline

USAGE:
    cargo xtask rim GUEST_IMAGE [--recs N] [--hash sha256|sha512] [--ipa IPA]
                    [--ram-top ADDR] [--s2sz N]

Replays the NS host's realm creation (tests/ns-host/src/vmm/build.rs) over
the flat binary GUEST_IMAGE with cmon-measure: REALM_CREATE, RTT_INIT_RIPAS
of [0, ram-top) with one extension per 4 KiB entry (one level-3 RTT), a
measured DATA_CREATE of every 4 KiB page of the image from IPA (the last page
zero-padded), and REC_CREATE of N RECs (REC 0 runnable, PC = IPA). Prints
the RIM in hex (32 bytes for SHA-256, 64 for SHA-512), as realm claim 44238
carries it. Numbers are decimal or 0x hex.

OPTIONS:
    --recs N          RECs created [default: 4, as for `run` with -smp 4;
                      the host creates one per CPU, 2..=4]
    --hash ALGO       sha256 or sha512 [default: sha256]
    --ipa IPA         Load IPA of the image, 4 KiB aligned [default: 0x20000]
    --ram-top ADDR    End of the RIPAS range, at most 0x200000 [default:
                      0x100000]
    --s2sz N          RmiRealmParams.s2sz, the IPA width [default: 39]
    -h, --help        Print this help
";

pub const MRTD_HELP: &str = "\
cargo xtask mrtd: compute the MRTD of a TD offline

USAGE:
    cargo xtask mrtd TD_IMAGE [--gpa GPA] [--add GPA]...

Replays the TD build of the x86 shim's harness (tdx-module-shim/image/src/
td_run.rs) with cmon-measure (tdx-module-abi.md §7): TDH.MEM.PAGE.ADD of
every 4 KiB page of TD_IMAGE from GPA (the last page zero-padded), each
followed by 16 TDH.MR.EXTENDs, then TDH.MEM.PAGE.ADD of each --add page
(not extended), then TDH.MR.FINALIZE. Prints the MRTD (48 bytes, hex), as
TDINFO.MRTD of a TDREPORT carries it. The x86 shim build (`cargo xtask run
--arch x86_64`, `test`, `bench --arch x86_64`) writes the TD image it runs
to target/images/td-guest.bin. Numbers are decimal or 0x hex.

OPTIONS:
    --gpa GPA         GPA of the image's first page [default: 0xFFFFF000,
                      so the last page holds the reset vector 0xFFFFFFF0]
    --add GPA         A page added unmeasured; repeat for more [default:
                      0xFFFFE000 and 0xFFFFD000, the data and stack pages]
    -h, --help        Print this help
";

/// The help text of `sub` (or the overview).
pub fn help_text(sub: Option<Sub>) -> &'static str {
    match sub {
        None => MAIN_HELP,
        Some(Sub::Build) => BUILD_HELP,
        Some(Sub::Size) => SIZE_HELP,
        Some(Sub::Run) => RUN_HELP,
        Some(Sub::Test) => TEST_HELP,
        Some(Sub::Bench) => BENCH_HELP,
        Some(Sub::Lint) => LINT_HELP,
        Some(Sub::VerifyToken) => VERIFY_TOKEN_HELP,
        Some(Sub::Rim) => RIM_HELP,
        Some(Sub::Mrtd) => MRTD_HELP,
    }
}
