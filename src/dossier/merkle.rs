//! The Merkle tree over a dossier's signature records: RFC 9162 §2.1 (the construction of
//! RFC 6962, Certificate Transparency) with SHA-256 — a leaf hashes as `SHA-256(0x00 ‖ leaf)`,
//! an inner node as `SHA-256(0x01 ‖ left ‖ right)`, and a tree of `n` leaves splits at the
//! largest power of two below `n`. An inclusion proof is the audit path of RFC 9162 §2.1.3.1;
//! [`root_from_proof`] is the verification algorithm of §2.1.3.2.

use sha2::{Digest, Sha256};

/// A SHA-256 value.
pub type Hash = [u8; 32];

/// How the manifest and the receipts name this construction.
pub const CONSTRUCTION: &str = "RFC 9162 section 2.1 Merkle tree, SHA-256";

/// The hash of a leaf's bytes.
#[must_use]
pub fn leaf_hash(leaf: &[u8]) -> Hash {
    let mut h = Sha256::new();
    h.update([0u8]);
    h.update(leaf);
    h.finalize().into()
}

/// The hash of an inner node.
#[must_use]
pub fn node_hash(left: &Hash, right: &Hash) -> Hash {
    let mut h = Sha256::new();
    h.update([1u8]);
    h.update(left);
    h.update(right);
    h.finalize().into()
}

/// The largest power of two strictly below `n` (`n` ≥ 2).
fn split(n: usize) -> usize {
    let mut k = 1;
    while k << 1 < n {
        k <<= 1;
    }
    k
}

/// The root over leaf hashes (the hash of the empty string for no leaves).
#[must_use]
pub fn root(leaves: &[Hash]) -> Hash {
    match leaves.len() {
        0 => Sha256::digest([]).into(),
        1 => leaves[0],
        n => {
            let k = split(n);
            node_hash(&root(&leaves[..k]), &root(&leaves[k..]))
        }
    }
}

/// The inclusion proof (audit path) of leaf `index`, nearest sibling first. Empty for a tree of
/// one leaf, and for an index out of range.
#[must_use]
pub fn proof(leaves: &[Hash], index: usize) -> Vec<Hash> {
    let mut path = Vec::new();
    if index < leaves.len() {
        audit_path(leaves, index, &mut path);
    }
    path
}

fn audit_path(leaves: &[Hash], index: usize, path: &mut Vec<Hash>) {
    let n = leaves.len();
    if n <= 1 {
        return;
    }
    let k = split(n);
    if index < k {
        audit_path(&leaves[..k], index, path);
        path.push(root(&leaves[k..]));
    } else {
        audit_path(&leaves[k..], index - k, path);
        path.push(root(&leaves[..k]));
    }
}

/// Every leaf's proof at once, in O(n log n): the tree is built once, level by level.
#[must_use]
pub fn all_proofs(leaves: &[Hash]) -> Vec<Vec<Hash>> {
    let mut out = vec![Vec::new(); leaves.len()];
    fill(leaves, 0, &mut out);
    out
}

/// Appends, for each leaf of the subtree starting at `offset`, the siblings above it inside
/// this subtree; returns the subtree's root.
fn fill(leaves: &[Hash], offset: usize, out: &mut [Vec<Hash>]) -> Hash {
    let n = leaves.len();
    match n {
        0 => Sha256::digest([]).into(),
        1 => leaves[0],
        _ => {
            let k = split(n);
            let left = fill(&leaves[..k], offset, out);
            let right = fill(&leaves[k..], offset + k, out);
            for p in &mut out[offset..offset + k] {
                p.push(right);
            }
            for p in &mut out[offset + k..offset + n] {
                p.push(left);
            }
            node_hash(&left, &right)
        }
    }
}

/// The root an inclusion proof leads to from `leaf` at `index` in a tree of `size` leaves, or
/// `None` when the proof cannot belong to such a tree (RFC 9162 §2.1.3.2).
#[must_use]
pub fn root_from_proof(leaf: &Hash, index: u64, size: u64, proof: &[Hash]) -> Option<Hash> {
    if index >= size {
        return None;
    }
    let (mut f_n, mut s_n) = (index, size - 1);
    let mut r = *leaf;
    for p in proof {
        if s_n == 0 {
            return None;
        }
        if f_n & 1 == 1 || f_n == s_n {
            r = node_hash(p, &r);
            if f_n & 1 == 0 {
                while f_n & 1 == 0 && f_n != 0 {
                    f_n >>= 1;
                    s_n >>= 1;
                }
            }
        } else {
            r = node_hash(&r, p);
        }
        f_n >>= 1;
        s_n >>= 1;
    }
    (s_n == 0).then_some(r)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn leaves(n: usize) -> Vec<Hash> {
        (0..n)
            .map(|i| leaf_hash(format!("leaf {i}").as_bytes()))
            .collect()
    }

    #[test]
    fn every_proof_leads_to_the_root_and_only_from_its_own_place() {
        for n in 1..=33 {
            let ls = leaves(n);
            let r = root(&ls);
            let all = all_proofs(&ls);
            for (i, leaf) in ls.iter().enumerate() {
                let p = proof(&ls, i);
                assert_eq!(p, all[i], "n={n} i={i}");
                let (i, size) = (i as u64, n as u64);
                assert_eq!(root_from_proof(leaf, i, size, &p), Some(r), "n={n} i={i}");
                if n > 1 {
                    let other = (i + 1) % size;
                    assert_ne!(root_from_proof(leaf, other, size, &p), Some(r));
                    assert_ne!(root_from_proof(&ls[other as usize], i, size, &p), Some(r));
                }
            }
        }
    }

    #[test]
    fn a_changed_proof_fails() {
        let ls = leaves(7);
        let r = root(&ls);
        let mut p = proof(&ls, 3);
        p[1][0] ^= 1;
        assert_ne!(root_from_proof(&ls[3], 3, 7, &p), Some(r));
        let short = &proof(&ls, 3)[..2];
        assert_ne!(root_from_proof(&ls[3], 3, 7, short), Some(r));
    }

    /// RFC 6962's own definition for three leaves: MTH(D[3]) = H(1 ‖ H(1 ‖ d0 ‖ d1) ‖ d2).
    #[test]
    fn matches_the_definition() {
        let ls = leaves(3);
        assert_eq!(root(&ls), node_hash(&node_hash(&ls[0], &ls[1]), &ls[2]));
        assert_eq!(proof(&ls, 2), vec![node_hash(&ls[0], &ls[1])]);
        assert_eq!(proof(&ls, 0), vec![ls[1], ls[2]]);
        assert_eq!(
            hex::encode(root(&[])),
            "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
        );
    }
}
