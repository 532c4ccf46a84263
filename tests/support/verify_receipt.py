#!/usr/bin/env python3
"""Independent check of a Lianming inclusion receipt against a dossier bundle.

    python3 verify_receipt.py RECEIPT.json BUNDLE.zip JWKS.json

First the bundle itself is verified (verify_bundle.py: jwcrypto, every file's SHA-256). Then
the receipt: its leaf hashes as RFC 9162 section 2.1 says (SHA-256(0x00 || leaf)), its
inclusion proof is followed with the verification algorithm of RFC 9162 section 2.1.3.2 to the
root, and the bundle's signed manifest must be the receipt's (SHA-256), hold that root and tree
size, and list this leaf hash, number and signature record at the receipt's place. Exit status
0 only if all of that holds; every failure is printed.
"""

import hashlib
import io
import json
import os
import sys
import zipfile
from contextlib import redirect_stdout

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import verify_bundle  # noqa: E402


def node(left, right):
    return hashlib.sha256(b"\x01" + left + right).digest()


def root_from_proof(leaf_hash, index, size, proof):
    """RFC 9162 section 2.1.3.2; None when the proof cannot belong to such a tree."""
    if index >= size:
        return None
    fn, sn, r = index, size - 1, leaf_hash
    for p in proof:
        if sn == 0:
            return None
        if fn & 1 or fn == sn:
            r = node(p, r)
            if not fn & 1:
                while not fn & 1 and fn != 0:
                    fn >>= 1
                    sn >>= 1
        else:
            r = node(r, p)
        fn >>= 1
        sn >>= 1
    return r if sn == 0 else None


def main(receipt_path, bundle_path, jwks_path):
    with open(receipt_path, "rb") as f:
        receipt = json.load(f)
    if receipt.get("format") != "lianming-receipt/1":
        print(f"receipt: unknown format {receipt.get('format')!r}")
        return 1
    leaf_bytes = receipt["leaf"].encode("utf-8")
    leaf = json.loads(leaf_bytes)
    leaf_hash = hashlib.sha256(b"\x00" + leaf_bytes).digest()
    proof = [bytes.fromhex(p) for p in receipt["proof"]]
    got = root_from_proof(leaf_hash, receipt["leaf_index"], receipt["tree_size"], proof)
    if got is None or got.hex() != receipt["root"]:
        print("receipt: the inclusion proof does not lead to the root")
        return 1
    if leaf.get("group") != receipt["group"] or leaf.get("version") != receipt["version"]:
        print("receipt: the leaf is not of the receipt's group and version")
        return 1

    out = io.StringIO()
    with redirect_stdout(out):
        status = verify_bundle.main(bundle_path, jwks_path)
    if status != 0:
        print("bundle: does not verify: " + out.getvalue().strip())
        return 1
    manifest_bytes = zipfile.ZipFile(bundle_path).read("manifest.json")
    if hashlib.sha256(manifest_bytes).hexdigest() != receipt["manifest_sha256"]:
        print("manifest.json: not the manifest of the receipt's version")
        return 1
    manifest = json.loads(manifest_bytes)
    tree = manifest.get("merkle") or {}
    if tree.get("root") != receipt["root"] or tree.get("tree_size") != receipt["tree_size"]:
        print("manifest.json: another root or tree size")
        return 1
    participants = manifest.get("participants", [])
    index = receipt["leaf_index"]
    entry = participants[index] if index < len(participants) else {}
    if (
        entry.get("leaf") != leaf_hash.hex()
        or entry.get("number") != leaf.get("number")
        or entry.get("signature") != leaf.get("signature")
    ):
        print("manifest.json: this record is not listed at the receipt's place")
        return 1
    print(f"OK: participant #{leaf['number']} is in {receipt['group']} v{receipt['version']}")
    return 0


if __name__ == "__main__":
    if len(sys.argv) != 4:
        print(__doc__)
        sys.exit(2)
    sys.exit(main(sys.argv[1], sys.argv[2], sys.argv[3]))
