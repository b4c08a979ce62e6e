//! The simulator's fixed output vocabulary. Words are plain lowercase ASCII
//! so the SSE writer can splice them into JSON without escaping; a test
//! holds the list to that.

/// About 200 common English words; each output token is `" " + word`.
#[rustfmt::skip]
pub(crate) const WORDS: &[&str] = &[
    "the", "be", "to", "of", "and", "a", "in", "that", "have", "it", "for", "not", "on", "with",
    "he", "as", "you", "do", "at", "this", "but", "his", "by", "from", "they", "we", "say", "her",
    "she", "or", "an", "will", "my", "one", "all", "would", "there", "their", "what", "so", "up",
    "out", "if", "about", "who", "get", "which", "go", "me", "when", "make", "can", "like", "time",
    "no", "just", "him", "know", "take", "people", "into", "year", "your", "good", "some", "could",
    "them", "see", "other", "than", "then", "now", "look", "only", "come", "its", "over", "think",
    "also", "back", "after", "use", "two", "how", "our", "work", "first", "well", "way", "even",
    "new", "want", "because", "any", "these", "give", "day", "most", "us", "is", "was", "are",
    "been", "has", "had", "were", "said", "did", "made", "found", "very", "still", "long", "great",
    "little", "own", "old", "right", "big", "high", "different", "small", "large", "next", "early",
    "young", "important", "few", "public", "bad", "same", "able", "model", "token", "answer",
    "question", "system", "data", "number", "part", "place", "case", "week", "company", "world",
    "life", "hand", "child", "eye", "woman", "man", "thing", "group", "problem", "fact", "point",
    "government", "home", "water", "room", "mother", "area", "money", "story", "month", "lot",
    "book", "job", "word", "business", "issue", "side", "kind", "head", "house", "service",
    "friend", "father", "power", "hour", "game", "line", "end", "member", "law", "car", "city",
    "name", "team", "minute", "idea", "kid", "body", "information", "school", "face", "others",
    "level", "office", "door", "health", "person", "art", "war", "history", "party", "result",
    "change", "morning", "reason", "research", "girl", "guy", "moment", "air", "teacher", "force",
    "education",
];

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn words_need_no_json_escaping() {
        assert!(WORDS.len() >= 200, "{} words", WORDS.len());
        for w in WORDS {
            assert!(
                !w.is_empty() && w.bytes().all(|b| b.is_ascii_lowercase()),
                "{w:?}"
            );
        }
    }
}
