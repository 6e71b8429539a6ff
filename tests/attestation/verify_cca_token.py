#!/usr/bin/env python3
"""Independent check of a CCA attestation token (cca-attestation.md §4, §6).

Uses PyPI's cbor2 and pycose instead of our Rust decoders, so that a shared
misreading of COSE/CBOR in cmon-evidence would show up here. Checks:
tag-399 collection (§4.1); realm COSE_Sign1 (ES384) with the RAK of claim
44237; platform COSE_Sign1 with the JWK (the CPAK); binding: platform claim
10 == SHA-256(claim 44237 bytes) (§4.6); optionally RIM (44238) and REMs
(44239) against given hex values. Exit status 0 only if every check passes.

`cargo xtask test` runs it from target/pyenv (qemu/src/pycheck.rs).
"""

import argparse
import base64
import hashlib
import json
import sys

import cbor2
from pycose.keys import CoseKey, EC2Key
from pycose.keys.curves import P384
from pycose.messages import CoseMessage

TAG_COLLECTION, PLATFORM, REALM = 399, 44234, 44241
CHALLENGE, RAK, RIM, REMS = 10, 44237, 44238, 44239


def b64url(text):
    """RFC 7515 §2 base64url without padding."""
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def jwk_key(path):
    with open(path, encoding="utf-8") as f:
        jwk = json.load(f)
    if jwk.get("kty") != "EC" or jwk.get("crv") != "P-384":
        raise ValueError(f"{path}: not an EC P-384 JWK")
    return EC2Key(crv=P384, x=b64url(jwk["x"]), y=b64url(jwk["y"]))


def sign1(token, key):
    """Decode a tagged COSE_Sign1, verify it with key; (ok, claims)."""
    msg = CoseMessage.decode(token)
    msg.key = key
    try:
        ok = msg.verify_signature()
    except Exception as e:  # pycose raises on malformed keys/signatures
        print(f"  ({type(e).__name__}: {e})")
        ok = False
    return ok, cbor2.loads(msg.payload)


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("token")
    ap.add_argument("--jwk", required=True, help="platform key (CPAK) as a JWK")
    ap.add_argument("--rim", help="expected RIM, hex")
    for i in range(1, 5):
        ap.add_argument(f"--rem{i}", help=f"expected REM{i}, hex")
    args = ap.parse_args()

    with open(args.token, "rb") as f:
        outer = cbor2.loads(f.read())
    if not isinstance(outer, cbor2.CBORTag) or outer.tag != TAG_COLLECTION:
        print("FAIL  token collection: not CBOR tag 399")
        return 1
    platform_tok, realm_tok = outer.value[PLATFORM], outer.value[REALM]

    # The realm token carries its own key; the platform signature over the
    # binding is what makes trusting it meaningful.
    realm_probe = cbor2.loads(CoseMessage.decode(realm_tok).payload)
    rak_bytes = realm_probe[RAK]
    rak = CoseKey.decode(rak_bytes)
    checks = []
    ok, realm = sign1(realm_tok, rak)
    checks.append(("realm signature (RAK, claim 44237)", ok))
    ok, platform = sign1(platform_tok, jwk_key(args.jwk))
    checks.append(("platform signature (JWK)", ok))
    binding = platform[CHALLENGE] == hashlib.sha256(rak_bytes).digest()
    checks.append(("RAK binding (SHA-256 of claim 44237)", binding))
    if args.rim is not None:
        checks.append(("RIM", realm[RIM].hex() == args.rim.lower()))
    for i in range(4):
        want = getattr(args, f"rem{i + 1}")
        if want is not None:
            checks.append((f"REM{i + 1}", realm[REMS][i].hex() == want.lower()))

    print(f"pycose check of {args.token}:")
    print(f"  realm RIM       {realm[RIM].hex()}")
    for i, rem in enumerate(realm[REMS]):
        print(f"  realm REM{i + 1}      {rem.hex()}")
    print(f"  platform chal.  {platform[CHALLENGE].hex()}")
    for name, good in checks:
        print(f"  {'PASS' if good else 'FAIL'}  {name}")
    failed = [name for name, good in checks if not good]
    print("PYCOSE CHECK PASSED" if not failed else f"PYCOSE CHECK FAILED: {', '.join(failed)}")
    return 1 if failed else 0


if __name__ == "__main__":
    try:
        sys.exit(main())
    except (OSError, ValueError, KeyError, IndexError, TypeError, AttributeError,
            cbor2.CBORDecodeError) as e:
        print(f"PYCOSE CHECK FAILED: {type(e).__name__}: {e}")
        sys.exit(1)
