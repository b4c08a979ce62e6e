//! Escaping text for HTML reports: every string that came from a user (a
//! race or engine name, an error message) goes through [`escape`] before it
//! is put into a page. Owns no markup of its own.

/// `s` with `&`, `<`, `>`, `"` and `'` replaced by entities, so it is safe
/// as element text and inside a quoted attribute value.
#[must_use]
pub fn escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::escape;

    #[test]
    fn markup_and_quotes_become_entities() {
        assert_eq!(
            escape(r#"<script>alert("x")</script> & 'y'"#),
            "&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt; &amp; &#39;y&#39;"
        );
    }

    #[test]
    fn plain_text_and_unicode_are_kept() {
        assert_eq!(escape("vLLM 🚀 — p99"), "vLLM 🚀 — p99");
        assert_eq!(escape(""), "");
    }

    #[test]
    fn an_entity_is_escaped_again_not_trusted() {
        assert_eq!(escape("&amp;"), "&amp;amp;");
    }
}
