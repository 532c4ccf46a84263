#!/usr/bin/env python3
"""Independent verification of a Lianming dossier bundle, using only the bundle and a JWKS.

    python3 verify_bundle.py BUNDLE.zip JWKS.json

Checks the compact JWS in manifest.jws with jwcrypto (EdDSA / Ed25519, key chosen by kid),
that manifest.json is exactly the signed payload, that letter.pdf matches the SHA-256 and size
in the signed protected header, that every file the manifest lists matches its SHA-256 and
size, and that the bundle holds no other file (but manifest.tsr, the manifest's RFC 3161
timestamp, which cannot be listed in the manifest it is over: check it with
`openssl ts -verify -data manifest.json -in manifest.tsr -CAfile TSA-CA.pem`). Exit status 0 only if all of that holds; every
failure is printed, one per line, naming the file or the signature.
"""

import hashlib
import json
import sys
import zipfile

from jwcrypto import jwk, jws


def main(bundle_path, jwks_path):
    problems = []
    with open(jwks_path, "rb") as f:
        keys = jwk.JWKSet.from_json(f.read())
    bundle = zipfile.ZipFile(bundle_path)
    names = {n for n in bundle.namelist() if not n.endswith("/")}

    compact = bundle.read("manifest.jws").decode("ascii").strip()
    manifest_bytes = bundle.read("manifest.json")
    token = jws.JWS()
    token.allowed_algs = ["EdDSA"]
    try:
        token.deserialize(compact)
    except Exception as e:  # noqa: BLE001 - report any parse failure
        print(f"manifest.jws: malformed: {e}")
        return 1
    header = token.jose_header
    if header.get("alg") != "EdDSA":
        problems.append(f"manifest.jws: alg is {header.get('alg')!r}, not EdDSA")
    key = keys.get_key(header.get("kid", ""))
    if key is None:
        print(f"manifest.jws: no key in the JWKS has kid {header.get('kid')!r}")
        return 1
    try:
        token.verify(key)
    except Exception as e:  # noqa: BLE001
        print(f"manifest.jws: signature invalid: {e}")
        return 1
    payload = token.payload
    if payload != manifest_bytes:
        problems.append("manifest.json: differs from the signed payload")
    manifest = json.loads(payload)
    if manifest.get("format") != "lianming-dossier/1":
        problems.append(f"manifest.json: unknown format {manifest.get('format')!r}")

    expected = list(manifest["files"]) + [header["letter"]]
    for entry in expected:
        path = entry["path"]
        if path not in names:
            problems.append(f"{path}: missing")
            continue
        data = bundle.read(path)
        if hashlib.sha256(data).hexdigest() != entry["sha256"] or len(data) != entry["size"]:
            problems.append(f"{path}: SHA-256 or size mismatch")
    listed = {e["path"] for e in expected} | {"manifest.json", "manifest.jws", "manifest.tsr"}
    for extra in sorted(names - listed):
        problems.append(f"{extra}: not listed in the manifest")

    for p in problems:
        print(p)
    if problems:
        return 1
    print(f"OK: kid {header['kid']}, {len(expected)} files")
    return 0


if __name__ == "__main__":
    if len(sys.argv) != 3:
        print(__doc__)
        sys.exit(2)
    sys.exit(main(sys.argv[1], sys.argv[2]))
