//! SEAM-style TDX module shim (placeholder until its issue)
#![no_std]
#![forbid(unsafe_code)]
