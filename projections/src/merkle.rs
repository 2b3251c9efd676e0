//! A Merkle tree over the event log, as RFC 6962 (Certificate Transparency) defines it, with
//! the inclusion-proof check of RFC 9162 section 2.1.3.2. Pure: no I/O.
//!
//! - leaf `i` = SHA-256(0x00 || the `hash` of the i-th event in position order);
//! - node = SHA-256(0x01 || left || right), the left subtree being the largest power of two
//!   smaller than the number of leaves;
//! - the empty tree's root is SHA-256 of nothing.
//!
//! [`CompactRange`] keeps only the right edge of the tree (one root per set bit of the size),
//! so a sealer adds new leaves to the tree of the previous seal without reading the old ones.

use sha2::{Digest, Sha256};

pub type Hash = [u8; 32];

/// SHA-256(0x00 || data): the leaf of one event, `data` being its chain hash.
pub fn leaf_hash(data: &[u8]) -> Hash {
    let mut hasher = Sha256::new();
    hasher.update([0u8]);
    hasher.update(data);
    hasher.finalize().into()
}

/// SHA-256(0x01 || left || right).
pub fn node_hash(left: &Hash, right: &Hash) -> Hash {
    let mut hasher = Sha256::new();
    hasher.update([1u8]);
    hasher.update(left);
    hasher.update(right);
    hasher.finalize().into()
}

/// The root of the tree without leaves.
pub fn empty_root() -> Hash {
    Sha256::digest([]).into()
}

/// The roots of the perfect subtrees along the right edge of a tree of `size` leaves, from
/// the largest (leftmost) to the smallest: one per set bit of `size`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct CompactRange {
    size: u64,
    nodes: Vec<Hash>,
}

impl CompactRange {
    pub fn new() -> Self {
        Self::default()
    }

    /// How many leaves were added.
    pub fn size(&self) -> u64 {
        self.size
    }

    /// Adds a leaf (already hashed with [`leaf_hash`]): merges one subtree per trailing one
    /// bit of the size, so a leaf costs O(1) amortised.
    pub fn push_leaf(&mut self, leaf: Hash) {
        let mut node = leaf;
        let mut size = self.size;
        while size & 1 == 1 {
            let Some(left) = self.nodes.pop() else { break };
            node = node_hash(&left, &node);
            size >>= 1;
        }
        self.nodes.push(node);
        self.size += 1;
    }

    /// The Merkle tree hash of every leaf added: the right-edge roots folded from the right.
    pub fn root(&self) -> Hash {
        let mut nodes = self.nodes.iter().rev();
        match nodes.next() {
            None => empty_root(),
            Some(last) => nodes.fold(*last, |right, left| node_hash(left, &right)),
        }
    }
}

/// The largest power of two smaller than `n` (`n` at least 2).
fn split_point(n: u64) -> u64 {
    1 << (63 - (n - 1).leading_zeros())
}

/// The leaf ranges `[start, end)` whose subtree roots make up the audit path of leaf `index`
/// in a tree of `size` leaves, nearest the leaf first (the order of the path).
pub fn path_ranges(index: u64, size: u64) -> Vec<(u64, u64)> {
    let mut ranges = Vec::new();
    let (mut start, mut end) = (0, size);
    while end.saturating_sub(start) > 1 {
        let split = start + split_point(end - start);
        if index < split {
            ranges.push((split, end));
            end = split;
        } else {
            ranges.push((start, split));
            start = split;
        }
    }
    ranges.reverse();
    ranges
}

/// Builds the audit path of one leaf from the leaves streamed in order, holding one
/// [`CompactRange`] per path entry (O(log² n) memory).
#[derive(Debug, Clone)]
pub struct ProofBuilder {
    index: u64,
    size: u64,
    ranges: Vec<(u64, u64)>,
    parts: Vec<CompactRange>,
    next: u64,
    leaf: Option<Hash>,
}

/// An inclusion proof: the leaf's index, the tree's size, and the audit path.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InclusionProof {
    pub leaf_index: u64,
    pub tree_size: u64,
    pub leaf: Hash,
    pub path: Vec<Hash>,
}

impl ProofBuilder {
    pub fn new(index: u64, size: u64) -> Self {
        let ranges = path_ranges(index, size);
        ProofBuilder {
            index,
            size,
            parts: vec![CompactRange::new(); ranges.len()],
            ranges,
            next: 0,
            leaf: None,
        }
    }

    /// Adds the next leaf (already hashed with [`leaf_hash`]).
    pub fn push_leaf(&mut self, leaf: Hash) {
        let at = self.next;
        self.next += 1;
        if at == self.index {
            self.leaf = Some(leaf);
            return;
        }
        if let Some(part) = self
            .ranges
            .iter()
            .position(|&(start, end)| (start..end).contains(&at))
        {
            self.parts[part].push_leaf(leaf);
        }
    }

    /// The proof, once exactly `size` leaves were added and the leaf was among them.
    pub fn finish(self) -> Option<InclusionProof> {
        if self.next != self.size {
            return None;
        }
        Some(InclusionProof {
            leaf_index: self.index,
            tree_size: self.size,
            leaf: self.leaf?,
            path: self.parts.iter().map(CompactRange::root).collect(),
        })
    }
}

/// RFC 9162 2.1.3.2: does `path` prove that `leaf` (already hashed with [`leaf_hash`]) is
/// leaf `leaf_index` of the tree of `tree_size` leaves whose root is `root`?
pub fn verify_inclusion(
    leaf_index: u64,
    tree_size: u64,
    leaf: &Hash,
    path: &[Hash],
    root: &Hash,
) -> bool {
    if leaf_index >= tree_size {
        return false;
    }
    let (mut f, mut s) = (leaf_index, tree_size - 1);
    let mut r = *leaf;
    for p in path {
        if s == 0 {
            return false;
        }
        if f & 1 == 1 || f == s {
            r = node_hash(p, &r);
            while f & 1 == 0 && f != 0 {
                f >>= 1;
                s >>= 1;
            }
        } else {
            r = node_hash(&r, p);
        }
        f >>= 1;
        s >>= 1;
    }
    s == 0 && r == *root
}

#[cfg(test)]
mod tests {
    use super::*;

    fn leaves(n: u64) -> Vec<Hash> {
        (0..n)
            .map(|i| leaf_hash(format!("event {i}").as_bytes()))
            .collect()
    }

    /// RFC 6962 2.1, written as the RFC reads.
    fn naive_root(leaves: &[Hash]) -> Hash {
        match leaves.len() {
            0 => empty_root(),
            1 => leaves[0],
            n => {
                let k = split_point(n as u64) as usize;
                node_hash(&naive_root(&leaves[..k]), &naive_root(&leaves[k..]))
            }
        }
    }

    /// RFC 6962 2.1.1: PATH(m, D[n]).
    fn naive_path(m: usize, leaves: &[Hash]) -> Vec<Hash> {
        let n = leaves.len();
        if n <= 1 {
            return Vec::new();
        }
        let k = split_point(n as u64) as usize;
        if m < k {
            let mut path = naive_path(m, &leaves[..k]);
            path.push(naive_root(&leaves[k..]));
            path
        } else {
            let mut path = naive_path(m - k, &leaves[k..]);
            path.push(naive_root(&leaves[..k]));
            path
        }
    }

    fn built_proof(index: u64, leaves: &[Hash]) -> InclusionProof {
        let mut builder = ProofBuilder::new(index, leaves.len() as u64);
        for leaf in leaves {
            builder.push_leaf(*leaf);
        }
        builder.finish().expect("every leaf was added")
    }

    #[test]
    fn the_compact_range_root_is_the_rfc_6962_root_for_sizes_0_to_17() {
        assert_eq!(CompactRange::new().root(), empty_root());
        for n in 1..=17u64 {
            let leaves = leaves(n);
            let mut range = CompactRange::new();
            for (i, leaf) in leaves.iter().enumerate() {
                range.push_leaf(*leaf);
                assert_eq!(range.size(), i as u64 + 1);
                assert_eq!(range.root(), naive_root(&leaves[..=i]), "size {}", i + 1);
            }
            assert_eq!(range.nodes.len(), n.count_ones() as usize);
        }
    }

    #[test]
    fn a_single_leaf_tree_is_its_leaf_and_two_leaves_make_one_node() {
        let l = leaves(2);
        assert_eq!(naive_root(&l[..1]), l[0]);
        assert_eq!(naive_root(&l), node_hash(&l[0], &l[1]));
        // Known answer: RFC 6962 leaf and node prefixes.
        let expected: Hash = Sha256::digest([&[0u8][..], b"x"].concat()).into();
        assert_eq!(leaf_hash(b"x"), expected);
    }

    #[test]
    fn every_leaf_has_a_proof_that_verifies_and_matches_the_rfc_path() {
        for n in 1..=17u64 {
            let leaves = leaves(n);
            let root = naive_root(&leaves);
            for m in 0..n {
                let proof = built_proof(m, &leaves);
                assert_eq!(proof.path, naive_path(m as usize, &leaves), "n {n} m {m}");
                assert_eq!(proof.leaf, leaves[m as usize]);
                assert!(verify_inclusion(m, n, &proof.leaf, &proof.path, &root));
            }
        }
    }

    #[test]
    fn a_proof_fails_for_another_leaf_index_path_or_root() {
        for n in 2..=17u64 {
            let leaves = leaves(n);
            let root = naive_root(&leaves);
            for m in 0..n {
                let proof = built_proof(m, &leaves);
                let other = leaf_hash(b"tampered");
                assert!(!verify_inclusion(m, n, &other, &proof.path, &root));
                assert!(!verify_inclusion(
                    (m + 1) % n,
                    n,
                    &proof.leaf,
                    &proof.path,
                    &root
                ));
                // (The size is not always pinned by the path alone: for a leaf of the left
                // subtree, sizes with the same split verify alike. The seal signs it.)
                assert!(!verify_inclusion(m, n, &proof.leaf, &proof.path, &other));
                assert!(!verify_inclusion(n, n, &proof.leaf, &proof.path, &root));
                let mut bent = proof.path.clone();
                bent[0][0] ^= 1;
                assert!(!verify_inclusion(m, n, &proof.leaf, &bent, &root));
                let short = &proof.path[..proof.path.len() - 1];
                assert!(!verify_inclusion(m, n, &proof.leaf, short, &root));
                let mut long = proof.path.clone();
                long.push(other);
                assert!(!verify_inclusion(m, n, &proof.leaf, &long, &root));
            }
        }
    }

    #[test]
    fn a_proof_needs_every_leaf_streamed() {
        let leaves = leaves(5);
        let mut builder = ProofBuilder::new(2, 5);
        for leaf in &leaves[..4] {
            builder.push_leaf(*leaf);
        }
        assert_eq!(builder.finish(), None);
    }
}
