//! The I/O half of validation: key files are read relative to the config's
//! directory, and an identity file readable by others is refused.

use std::os::unix::fs::PermissionsExt;

use outpost_core::config::KeySource;
use outpost_core::keyfiles::{load_key_files, KeyFileError};
use outpost_core::validate::check;

const OFFICE: &str = include_str!("../../../examples/site/office.toml");
const KEY: &str =
    "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIAEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEB head\n";

#[test]
fn loads_key_files_and_checks_identity_permissions() {
    let dir = std::env::temp_dir().join(format!("outpost-keyfiles-{}", std::process::id()));
    std::fs::create_dir_all(dir.join("keys")).unwrap();
    let mut c = check("office.toml", OFFICE).unwrap();

    // nothing there yet: both files are reported
    let errs = load_key_files(&mut c.clone(), &dir).unwrap_err();
    assert_eq!(errs.len(), 2, "{errs:?}");

    std::fs::write(dir.join("keys/concentrator.ed25519.pub"), KEY).unwrap();
    let id = dir.join("keys/office1.ed25519");
    std::fs::write(&id, "private").unwrap();
    std::fs::set_permissions(&id, std::fs::Permissions::from_mode(0o644)).unwrap();
    let errs = load_key_files(&mut c.clone(), &dir).unwrap_err();
    assert!(
        matches!(errs[..], [KeyFileError::TooOpen { mode: 0o644, .. }]),
        "{errs:?}"
    );
    assert!(errs[0].to_string().contains("chmod 600"));

    std::fs::set_permissions(&id, std::fs::Permissions::from_mode(0o600)).unwrap();
    load_key_files(&mut c, &dir).unwrap();
    assert!(matches!(c.tunnel.unwrap().host_key, KeySource::Inline(_)));

    std::fs::write(
        dir.join("keys/concentrator.ed25519.pub"),
        "ssh-rsa AAAA x\n",
    )
    .unwrap();
    let mut c = check("office.toml", OFFICE).unwrap();
    let errs = load_key_files(&mut c, &dir).unwrap_err();
    assert!(
        errs[0].to_string().contains("only ssh-ed25519"),
        "{}",
        errs[0]
    );
    let _ = std::fs::remove_dir_all(&dir);
}
