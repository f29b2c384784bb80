//! A dropbear ed25519 private key rewritten in OpenSSH's own format
//! (`openssh-key-v1`, unencrypted), so a home user's stock `ssh -i` reads
//! the key mkoutpost generated (issue 18). Pure bytes in, text out.
//!
//! dropbear writes `string "ssh-ed25519"`, `string (seed ‖ public)`: 64
//! bytes. OpenSSH wants, base64 between PEM-style lines, the magic
//! `openssh-key-v1\0`, cipher/kdf `none`, one public key blob, and a
//! private section: two equal check words, the key type, the public key,
//! seed ‖ public, the comment, padded 1, 2, 3… to 8 bytes.

/// Why a file is not a dropbear ed25519 private key.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ConvertError {
    /// Not `string "ssh-ed25519"`, `string` of 64 bytes, nothing after.
    #[error("not a dropbear ed25519 private key (want string \"ssh-ed25519\" then 64 key bytes)")]
    Shape,
}

fn take_string(b: &[u8]) -> Option<(&[u8], &[u8])> {
    let len = u32::from_be_bytes(b.get(..4)?.try_into().ok()?) as usize;
    let end = 4usize.checked_add(len)?;
    Some((b.get(4..end)?, b.get(end..)?))
}

fn put_string(out: &mut Vec<u8>, s: &[u8]) {
    out.extend_from_slice(&(s.len() as u32).to_be_bytes());
    out.extend_from_slice(s);
}

/// Standard base64 with padding.
pub fn base64(data: &[u8]) -> String {
    const A: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut s = String::with_capacity(data.len().div_ceil(3) * 4);
    for c in data.chunks(3) {
        let n = (u32::from(c[0]) << 16)
            | (u32::from(*c.get(1).unwrap_or(&0)) << 8)
            | u32::from(*c.get(2).unwrap_or(&0));
        for i in 0..4 {
            if i <= c.len() {
                s.push(A[(n >> (18 - 6 * i) & 63) as usize] as char);
            } else {
                s.push('=');
            }
        }
    }
    s
}

/// The OpenSSH private key file for the dropbear key `dropbear`, with
/// `comment`. The check words are taken from the public key, so the same
/// key always gives the same file.
pub fn from_dropbear(dropbear: &[u8], comment: &str) -> Result<String, ConvertError> {
    let (kind, rest) = take_string(dropbear).ok_or(ConvertError::Shape)?;
    let (key, rest) = take_string(rest).ok_or(ConvertError::Shape)?;
    if kind != b"ssh-ed25519" || key.len() != 64 || !rest.is_empty() {
        return Err(ConvertError::Shape);
    }
    let public = &key[32..];
    let mut blob = Vec::new();
    put_string(&mut blob, b"ssh-ed25519");
    put_string(&mut blob, public);
    let mut private = Vec::new();
    private.extend_from_slice(&public[..4]);
    private.extend_from_slice(&public[..4]);
    put_string(&mut private, b"ssh-ed25519");
    put_string(&mut private, public);
    put_string(&mut private, key);
    put_string(&mut private, comment.as_bytes());
    let mut pad = 1u8;
    while private.len() % 8 != 0 {
        private.push(pad);
        pad += 1;
    }
    let mut file = b"openssh-key-v1\0".to_vec();
    put_string(&mut file, b"none");
    put_string(&mut file, b"none");
    put_string(&mut file, b"");
    file.extend_from_slice(&1u32.to_be_bytes());
    put_string(&mut file, &blob);
    put_string(&mut file, &private);
    let b64 = base64(&file);
    let mut text = String::from("-----BEGIN OPENSSH PRIVATE KEY-----\n");
    for line in b64.as_bytes().chunks(70) {
        text.push_str(&String::from_utf8_lossy(line));
        text.push('\n');
    }
    text.push_str("-----END OPENSSH PRIVATE KEY-----\n");
    Ok(text)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn base64_pads() {
        assert_eq!(base64(b"f"), "Zg==");
        assert_eq!(base64(b"fo"), "Zm8=");
        assert_eq!(base64(b"foo"), "Zm9v");
    }

    #[test]
    fn refuses_what_is_not_a_dropbear_ed25519_key() {
        assert_eq!(from_dropbear(b"", "x"), Err(ConvertError::Shape));
        let mut k = Vec::new();
        put_string(&mut k, b"ssh-rsa");
        put_string(&mut k, &[0; 64]);
        assert_eq!(from_dropbear(&k, "x"), Err(ConvertError::Shape));
    }

    #[test]
    fn writes_openssh_s_framing() {
        let mut k = Vec::new();
        put_string(&mut k, b"ssh-ed25519");
        put_string(&mut k, &[7; 64]);
        let t = from_dropbear(&k, "home1").unwrap();
        assert!(
            t.starts_with(
                "-----BEGIN OPENSSH PRIVATE KEY-----\nb3BlbnNzaC1rZXktdjEAAAAABG5vbmUAAAAEbm9uZQ"
            ),
            "{t}"
        );
        assert!(t.ends_with("-----END OPENSSH PRIVATE KEY-----\n"));
        assert!(t.lines().all(|l| l.len() <= 70 || l.starts_with("-----")));
    }
}
