//! SSH public keys as they appear in config files, known_hosts and
//! authorized_keys: `ssh-ed25519 AAAA… [comment]`. Only ed25519 is
//! accepted — it is what dropbear generates fastest on a 486 and the only
//! type outpost's images use. The base64 blob is decoded and its inner
//! structure checked, so a truncated or pasted-wrong key is caught at
//! `check` time rather than at the first connection.

use std::fmt;

/// The only key type accepted.
pub const ED25519: &str = "ssh-ed25519";

/// Why a key line is not a usable ed25519 public key.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum KeyError {
    /// Empty or a single word.
    #[error(
        "expected `ssh-ed25519 AAAA…` (key type, then the base64 key, then an optional comment)"
    )]
    Shape,
    /// Another key type.
    #[error("key type `{0}` is not supported; only ssh-ed25519 keys are accepted")]
    Type(String),
    /// The base64 part does not decode.
    #[error("the key's base64 text is damaged (not valid base64)")]
    Base64,
    /// The blob decodes but is not an ed25519 key blob.
    #[error("the key's data is not an ssh-ed25519 public key (truncated or mixed up?)")]
    Blob,
}

/// A validated ed25519 public key, with its comment.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PublicKey {
    base64: String,
    comment: Option<String>,
}

impl PublicKey {
    /// Parses `ssh-ed25519 BASE64 [comment]`.
    pub fn parse(line: &str) -> Result<Self, KeyError> {
        let mut words = line.split_whitespace();
        let kind = words.next().ok_or(KeyError::Shape)?;
        if kind != ED25519 {
            if kind.starts_with("ssh-") || kind.starts_with("ecdsa-") {
                return Err(KeyError::Type(kind.to_string()));
            }
            return Err(KeyError::Shape);
        }
        let b64 = words.next().ok_or(KeyError::Shape)?;
        let blob = decode_base64(b64).ok_or(KeyError::Base64)?;
        if !is_ed25519_blob(&blob) {
            return Err(KeyError::Blob);
        }
        let rest: Vec<&str> = words.collect();
        Ok(PublicKey {
            base64: b64.to_string(),
            comment: (!rest.is_empty()).then(|| rest.join(" ")),
        })
    }

    /// `ssh-ed25519 BASE64` without the comment.
    pub fn key_text(&self) -> String {
        format!("{ED25519} {}", self.base64)
    }

    /// The comment, if the line had one.
    pub fn comment(&self) -> Option<&str> {
        self.comment.as_deref()
    }
}

impl fmt::Display for PublicKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.key_text())?;
        if let Some(c) = &self.comment {
            write!(f, " {c}")?;
        }
        Ok(())
    }
}

/// string "ssh-ed25519" then string of 32 bytes, each with a u32 length.
fn is_ed25519_blob(b: &[u8]) -> bool {
    let Some((name, rest)) = take_string(b) else {
        return false;
    };
    let Some((key, rest)) = take_string(rest) else {
        return false;
    };
    name == ED25519.as_bytes() && key.len() == 32 && rest.is_empty()
}

fn take_string(b: &[u8]) -> Option<(&[u8], &[u8])> {
    let len = u32::from_be_bytes(b.get(..4)?.try_into().ok()?) as usize;
    let body = b.get(4..4usize.checked_add(len)?)?;
    Some((body, b.get(4 + len..)?))
}

fn decode_base64(s: &str) -> Option<Vec<u8>> {
    let s = s.trim_end_matches('=');
    let mut out = Vec::with_capacity(s.len() * 3 / 4);
    let (mut acc, mut bits) = (0u32, 0u32);
    for c in s.bytes() {
        let v = match c {
            b'A'..=b'Z' => c - b'A',
            b'a'..=b'z' => c - b'a' + 26,
            b'0'..=b'9' => c - b'0' + 52,
            b'+' => 62,
            b'/' => 63,
            _ => return None,
        };
        acc = (acc << 6) | u32::from(v);
        bits += 6;
        if bits >= 8 {
            bits -= 8;
            out.push((acc >> bits) as u8);
            acc &= (1 << bits) - 1;
        }
    }
    // leftover bits must be zero padding of fewer than 6 bits
    (bits < 6 && acc == 0).then_some(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A syntactically valid key (32 bytes of 0x01).
    pub const K: &str = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIAEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEB test@outpost";

    #[test]
    fn parses_valid_key() {
        let k = PublicKey::parse(K).unwrap();
        assert_eq!(k.comment(), Some("test@outpost"));
        assert!(k.key_text().starts_with("ssh-ed25519 AAAAC3"));
        assert_eq!(k.to_string(), K);
    }

    #[test]
    fn rejects_broken_keys() {
        assert_eq!(PublicKey::parse(""), Err(KeyError::Shape));
        assert_eq!(
            PublicKey::parse("ssh-rsa AAAA"),
            Err(KeyError::Type("ssh-rsa".into()))
        );
        assert_eq!(PublicKey::parse("ssh-ed25519 AA!A"), Err(KeyError::Base64));
        // one byte short
        let short =
            "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAHwEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQE=";
        assert_eq!(PublicKey::parse(short), Err(KeyError::Blob));
    }
}
