//! The simulator's prefix cache, modelled on vLLM's: a prompt is cut into
//! blocks of [`BLOCK_TOKENS`] tokens, each block known by a hash of the
//! whole prompt up to its end, and a request reuses the run of leading
//! blocks the cache holds. Least recently used blocks go first. Its truth
//! (which blocks were held) is what the tests check a race's hit rate by.

use std::hash::{DefaultHasher, Hash, Hasher};
use std::num::NonZeroUsize;

use lru::LruCache;

/// Tokens per block (vLLM's default block size).
pub const BLOCK_TOKENS: u32 = 16;
/// Characters per block: the simulator counts a prompt's tokens as its
/// characters / 4 (see `workload::estimate_tokens`).
const BLOCK_BYTES: usize = 4 * BLOCK_TOKENS as usize;

/// Full blocks of prompts, by the hash of the prompt up to their end.
pub(crate) struct PrefixCache {
    blocks: LruCache<u64, ()>,
}

impl std::fmt::Debug for PrefixCache {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PrefixCache")
            .field("blocks", &self.blocks.len())
            .field("capacity", &self.blocks.cap())
            .finish()
    }
}

impl PrefixCache {
    /// A cache of `tokens` tokens (at least one block).
    pub(crate) fn new(tokens: u32) -> Self {
        let blocks = usize::try_from(tokens / BLOCK_TOKENS).unwrap_or(usize::MAX);
        PrefixCache {
            blocks: LruCache::new(NonZeroUsize::new(blocks).unwrap_or(NonZeroUsize::MIN)),
        }
    }

    /// Serves a prompt of `tokens` tokens whose text is `text`: returns how
    /// many of its tokens were cached, and caches its full blocks. As in
    /// vLLM, the last token is always computed, so a prompt held whole
    /// reports one token fewer than its length.
    pub(crate) fn serve(&mut self, text: &[u8], tokens: u32) -> u32 {
        let hashes = block_hashes(text);
        let held = hashes
            .iter()
            .take_while(|h| self.blocks.get(*h).is_some())
            .count();
        for h in &hashes {
            self.blocks.put(*h, ());
        }
        let held = u32::try_from(held).unwrap_or(u32::MAX);
        held.saturating_mul(BLOCK_TOKENS)
            .min(tokens.saturating_sub(1))
    }
}

/// Each full block's hash, chained: a block is known by everything before
/// it, so two prompts share a block only when they share their whole start.
fn block_hashes(text: &[u8]) -> Vec<u64> {
    let mut hasher = DefaultHasher::new();
    text.chunks_exact(BLOCK_BYTES)
        .map(|block| {
            block.hash(&mut hasher);
            hasher.finish()
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn text(prefix: &str, len: usize) -> Vec<u8> {
        prefix.bytes().cycle().take(len).collect()
    }

    #[test]
    fn a_shared_start_is_served_from_the_cache_in_whole_blocks() {
        let mut cache = PrefixCache::new(1024);
        // 200 bytes: 50 tokens, 3 full blocks (192 bytes).
        let a = text("abcdefgh", 200);
        assert_eq!(cache.serve(&a, 50), 0, "a cold cache holds nothing");
        assert_eq!(cache.serve(&a, 50), 48, "three blocks again");
        // The same 160-byte start, then something else: two whole blocks.
        let mut b = a[..160].to_vec();
        b.extend(text("zzzz", 100));
        assert_eq!(cache.serve(&b, 65), 32);
        // A different first byte shares nothing.
        let mut c = a.clone();
        c[0] = b'X';
        assert_eq!(cache.serve(&c, 50), 0);
    }

    #[test]
    fn the_last_token_is_always_computed_and_old_blocks_go_first() {
        let mut cache = PrefixCache::new(2 * BLOCK_TOKENS);
        let exact = text("ab", 128);
        cache.serve(&exact, 32);
        assert_eq!(cache.serve(&exact, 32), 31);
        // Two blocks of room: a third prompt's blocks push the first out.
        cache.serve(&text("cd", 128), 32);
        assert_eq!(cache.serve(&exact, 32), 0);
    }
}
