//! Keeping secrets out of everything written: which names suggest a secret
//! and which values look like keys (the validator refuses those in a race
//! file; the race file redacts the values of those names), URLs without
//! credentials, and messages with known secret values removed.
//! Used by the HTTP client (error messages reach logs and race files) and
//! the race file (the stored configuration).

/// Header names whose values are treated as secrets.
const SECRET_HINTS: [&str; 13] = [
    "auth",
    "key",
    "token",
    "secret",
    "pass",
    "cookie",
    "credential",
    "sig",
    "session",
    "bearer",
    "jwt",
    "code",
    "private",
];

/// Whether a header or query parameter name suggests a secret value.
#[must_use]
pub fn looks_secret(name: &str) -> bool {
    let name = name.to_ascii_lowercase();
    SECRET_HINTS.iter().any(|hint| name.contains(hint))
}

/// Whether a value looks like an API key (a provider's key prefix, or a
/// long token without the `_` of a variable name) rather than a name.
#[must_use]
pub fn looks_like_key(v: &str) -> bool {
    const PREFIXES: [&str; 8] = [
        "sk-",
        "hf_",
        "gsk_",
        "xai-",
        "ghp_",
        "github_pat_",
        "AIza",
        "Bearer ",
    ];
    let v = v.trim();
    PREFIXES.iter().any(|prefix| v.starts_with(prefix)) || (v.len() >= 32 && !v.contains('_'))
}

pub const REDACTED: &str = "<redacted>";

/// A URL without credentials: the user-info part and the values of query
/// parameters whose names suggest a secret are replaced.
#[must_use]
pub fn scrub_url(url: &str) -> String {
    let (base, query) = match url.split_once('?') {
        Some((b, q)) => (b, Some(q)),
        None => (url, None),
    };
    let mut out = match base.split_once("://") {
        Some((scheme, rest)) => {
            let (authority, path) = match rest.find('/') {
                Some(i) => rest.split_at(i),
                None => (rest, ""),
            };
            let host = authority.rsplit_once('@').map_or(authority, |(_, h)| h);
            let userinfo = if host.len() == authority.len() {
                ""
            } else {
                "<redacted>@"
            };
            format!("{scheme}://{userinfo}{host}{path}")
        }
        None => base.to_owned(),
    };
    if let Some(query) = query {
        let params: Vec<String> = query
            .split('&')
            .map(|p| match p.split_once('=') {
                Some((k, _)) if looks_secret(k) => format!("{k}={REDACTED}"),
                _ => p.to_owned(),
            })
            .collect();
        out.push('?');
        out.push_str(&params.join("&"));
    }
    out
}

/// `text` with every URL in it passed through [`scrub_url`] (error messages
/// of HTTP clients name the URL they failed on).
#[must_use]
pub fn scrub_urls_in(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(start) = ["http://", "https://"]
        .iter()
        .filter_map(|scheme| rest.find(scheme))
        .min()
    {
        out.push_str(&rest[..start]);
        let url = &rest[start..];
        let end = url
            .find(|c: char| {
                c.is_whitespace() || matches!(c, ')' | '(' | '"' | '\'' | '<' | '>' | ',')
            })
            .unwrap_or(url.len());
        out.push_str(&scrub_url(&url[..end]));
        rest = &url[end..];
    }
    out.push_str(rest);
    out
}

/// `text` with every occurrence of each secret replaced by [`REDACTED`].
/// Empty secrets are ignored.
#[must_use]
pub fn redact(text: &str, secrets: &[String]) -> String {
    let mut out = text.to_owned();
    for secret in secrets {
        if !secret.is_empty() && out.contains(secret.as_str()) {
            out = out.replace(secret.as_str(), REDACTED);
        }
    }
    out
}

/// Shortest start of a secret that counts as the secret when a cut text
/// ends with it.
const PARTIAL_SECRET_CHARS: usize = 4;

/// Like [`redact`], for text that may have been cut off: a secret whose
/// start is all that is left at the end is replaced too.
#[must_use]
pub fn redact_cut(text: &str, secrets: &[String]) -> String {
    let mut out = redact(text, secrets);
    for secret in secrets {
        let starts = secret
            .char_indices()
            .map(|(i, _)| i)
            .skip(PARTIAL_SECRET_CHARS)
            .collect::<Vec<_>>();
        if let Some(&cut) = starts.iter().rev().find(|&&i| out.ends_with(&secret[..i])) {
            let keep = out.len() - cut;
            out.truncate(keep);
            out.push_str(REDACTED);
        }
    }
    out
}

/// Text from a server, safe to print: control characters (a terminal's
/// escape sequences among them) become spaces.
#[must_use]
pub fn printable(text: &str) -> String {
    text.chars()
        .map(|c| if c.is_control() { ' ' } else { c })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_secret_cut_off_at_the_end_is_redacted_too() {
        let secrets = vec!["sk-abcdef123456".to_owned()];
        assert_eq!(
            redact_cut("HTTP 401: bad key sk-abcdef12", &secrets),
            "HTTP 401: bad key <redacted>"
        );
        assert_eq!(
            redact_cut("key sk-abcdef123456 and sk-", &secrets),
            "key <redacted> and sk-",
            "fewer than four characters are too common to mean the key"
        );
        assert_eq!(printable("a\u{1b}[2Jb\nc"), "a [2Jb c");
    }

    #[test]
    fn urls_lose_credentials_and_keep_the_rest() {
        assert_eq!(
            scrub_url("https://user:pw@api.example.com/v1/chat?api_key=s3cret&model=x"),
            "https://<redacted>@api.example.com/v1/chat?api_key=<redacted>&model=x"
        );
        assert_eq!(
            scrub_url("http://127.0.0.1:8000/v1/completions"),
            "http://127.0.0.1:8000/v1/completions"
        );
    }

    #[test]
    fn secret_header_names_are_recognised() {
        for name in [
            "Authorization",
            "X-Api-Key",
            "x-goog-api-key",
            "Cookie",
            "X-Auth-Token",
        ] {
            assert!(looks_secret(name), "{name}");
        }
        for name in ["Content-Type", "X-Request-Priority", "User-Agent"] {
            assert!(!looks_secret(name), "{name}");
        }
    }

    #[test]
    fn urls_inside_messages_are_scrubbed() {
        assert_eq!(
            scrub_urls_in(
                "error sending request for url (http://127.0.0.1:9/v1?api_key=S&x=1): refused"
            ),
            "error sending request for url (http://127.0.0.1:9/v1?api_key=<redacted>&x=1): refused"
        );
        assert_eq!(scrub_urls_in("no url"), "no url");
    }

    #[test]
    fn known_secrets_are_removed_from_messages() {
        let secrets = vec!["sk-abc".to_owned(), String::new()];
        assert_eq!(
            redact("HTTP 401: bad key Bearer sk-abc (sk-abc)", &secrets),
            "HTTP 401: bad key Bearer <redacted> (<redacted>)"
        );
        assert_eq!(redact("nothing here", &secrets), "nothing here");
    }
}
