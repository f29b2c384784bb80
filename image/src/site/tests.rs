//! `site build`'s first half on the example sites, in a directory under
//! the repository's `target/`: configs and keys written and accepted by
//! `mkoutpost check`'s logic, private keys 0600, a second run writes
//! nothing, an edit to one office rewrites only it and the concentrator.
//! Keys come from a stand-in generator (valid public lines, no dropbear).

use std::collections::BTreeMap;
use std::fs;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};

use sha2::{Digest, Sha256};

use super::*;

fn scratch(name: &str) -> PathBuf {
    let d = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../target/mkoutpost-site-tests")
        .join(name);
    let _ = fs::remove_dir_all(&d);
    fs::create_dir_all(&d).unwrap();
    d
}

// One base64 encoder: the OpenSSH key writer's.
use outpost_core::openssh_key::base64;

/// A valid ed25519 public line derived from the owner; the "private key"
/// is dropbear-shaped bytes derived from it, 0600 as dropbearkey leaves it.
fn fake_generate(calls: &mut Vec<String>) -> impl FnMut(&Path, &str) -> Result<()> + '_ {
    move |private: &Path, owner: &str| {
        calls.push(owner.to_string());
        fs::create_dir_all(private.parent().unwrap()).unwrap();
        if !private.exists() {
            // dropbear's shape (the OpenSSH copy for home users is made
            // from it): string "ssh-ed25519", string seed ‖ public.
            let mut key = vec![0, 0, 0, 11];
            key.extend_from_slice(b"ssh-ed25519");
            key.extend_from_slice(&[0, 0, 0, 64]);
            key.extend_from_slice(&Sha256::digest(format!("seed of {owner}").as_bytes()));
            key.extend_from_slice(&Sha256::digest(owner.as_bytes()));
            fs::write(private, key).unwrap();
            fs::set_permissions(private, fs::Permissions::from_mode(0o600)).unwrap();
        }
        let mut blob = vec![0, 0, 0, 11];
        blob.extend_from_slice(b"ssh-ed25519");
        blob.extend_from_slice(&[0, 0, 0, 32]);
        blob.extend_from_slice(&Sha256::digest(owner.as_bytes()));
        fs::write(
            keys::pub_path(private),
            format!("ssh-ed25519 {} {owner}\n", base64(&blob)),
        )
        .unwrap();
        Ok(())
    }
}

fn copy_example(dir: &Path, name: &str) -> PathBuf {
    let src = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../examples/sites")
        .join(name);
    let dst = dir.join(name);
    fs::copy(src, &dst).unwrap();
    dst
}

/// One `site build` without images: every written file, by router.
fn run(site_file: &Path, out: &Path, calls: &mut Vec<String>) -> BTreeMap<String, Vec<PathBuf>> {
    let site = load(site_file).unwrap();
    let dir = site_dir(site_file);
    let (keys, _) = ensure_keys(&site, &dir, &mut fake_generate(calls)).unwrap();
    write_configs(&site, &dir, &keys, out, None)
        .unwrap()
        .into_iter()
        .map(|w| (w.name, w.changed))
        .collect()
}

fn mode(p: &Path) -> u32 {
    fs::metadata(p).unwrap().permissions().mode() & 0o777
}

#[test]
fn the_demo_site_writes_checked_configs_and_private_keys_once() {
    let dir = scratch("demo");
    let site = copy_example(&dir, "demo.toml");
    let out = dir.join("out");
    let mut calls = Vec::new();
    let first = run(&site, &out, &mut calls);
    assert_eq!(calls, ["head", "office1"], "one key pair each");
    assert_eq!(first.keys().collect::<Vec<_>>(), ["head", "office1"]);
    for (name, key) in [("head", "head"), ("office1", "office1")] {
        let rdir = out.join(name);
        assert_eq!(
            first[name],
            [
                rdir.join("outpost.toml"),
                rdir.join(format!("keys/{key}.ed25519")),
                rdir.join(format!("keys/{key}.ed25519.pub")),
            ]
        );
        // mkoutpost check's logic, and plan's: the directory is self-contained
        let mut cfg = build::load_config(&rdir.join("outpost.toml")).unwrap();
        outpost_core::keyfiles::load_key_files(&mut cfg, &rdir).unwrap();
        assert_eq!(mode(&rdir.join(format!("keys/{key}.ed25519"))), 0o600);
        assert_eq!(mode(&rdir.join("keys")), 0o700);
        assert_eq!(mode(&dir.join(format!("keys/{key}.ed25519"))), 0o600);
        assert_eq!(
            fs::read_to_string(dir.join(format!("keys/{key}.ed25519.owner"))).unwrap(),
            format!("{key}\n")
        );
    }
    let office = fs::read_to_string(out.join("office1/outpost.toml")).unwrap();
    let head_pub = fs::read_to_string(dir.join("keys/head.ed25519.pub")).unwrap();
    assert!(office.contains(&format!("host_key = \"{}\"", head_pub.trim())));

    // Again: no key generated, nothing written.
    let mut again = Vec::new();
    let second = run(&site, &out, &mut again);
    assert!(again.is_empty(), "keys are never regenerated: {again:?}");
    assert!(second.values().all(|c| c.is_empty()), "{second:?}");
}

#[test]
fn an_edit_to_one_office_rewrites_only_it_and_the_concentrator() {
    let dir = scratch("seed");
    let site = copy_example(&dir, "seed-ch5.toml");
    let out = dir.join("out");
    let mut calls = Vec::new();
    let first = run(&site, &out, &mut calls);
    assert_eq!(calls, ["vpn", "office10", "office11", "home1", "home2"]);
    assert_eq!(first.len(), 5);
    let home = out.join("home-home1");
    assert_eq!(mode(&home.join("home1.ed25519")), 0o600);
    assert_eq!(mode(&home.join("connect.sh")), 0o755);
    let vpn_pub = fs::read_to_string(dir.join("keys/vpn.ed25519.pub")).unwrap();
    let pinned = fs::read_to_string(home.join(".ssh/known_hosts")).unwrap();
    let want = format!(
        "172.16.0.1 {}\n",
        vpn_pub
            .split_whitespace()
            .take(2)
            .collect::<Vec<_>>()
            .join(" ")
    );
    assert_eq!(pinned, want);
    assert_eq!(fs::read_to_string(home.join("known_hosts")).unwrap(), want);
    // Issue 18: the same tunnel for stock ppp + openssh-client.
    assert_eq!(mode(&home.join("home1.openssh")), 0o600);
    let openssh = fs::read_to_string(home.join("home1.openssh")).unwrap();
    assert!(
        openssh.starts_with("-----BEGIN OPENSSH PRIVATE KEY-----\n"),
        "{openssh}"
    );
    assert_eq!(mode(&home.join("connect-openssh.sh")), 0o755);
    let script = fs::read_to_string(home.join("connect-openssh.sh")).unwrap();
    assert!(
        script.contains("-i '$here'/home1.openssh -p 22 home1@172.16.0.1\""),
        "{script}"
    );
    let ip_up = fs::read_to_string(home.join("ip-up")).unwrap();
    assert!(ip_up.contains("ip route replace 192.168."), "{ip_up}");
    let unit = fs::read_to_string(home.join("outpost-vpn.service")).unwrap();
    assert!(
        unit.contains("ExecStart=/bin/sh /etc/outpost-vpn/connect-openssh.sh"),
        "{unit}"
    );

    let text = fs::read_to_string(&site).unwrap();
    fs::write(&site, text.replace("192.168.10.1/24", "192.168.12.1/24")).unwrap();
    let mut again = Vec::new();
    let second = run(&site, &out, &mut again);
    assert!(again.is_empty());
    let changed: Vec<(&str, &Vec<PathBuf>)> = second
        .iter()
        .filter(|(_, c)| !c.is_empty())
        .map(|(n, c)| (n.as_str(), c))
        .collect();
    assert_eq!(
        changed,
        [
            ("office10", &vec![out.join("office10/outpost.toml")]),
            ("vpn", &vec![out.join("vpn/outpost.toml")]),
        ]
    );
    let office = fs::read_to_string(out.join("office10/outpost.toml")).unwrap();
    assert!(office.contains("address = \"192.168.12.1/24\""));
}

#[test]
fn only_one_router_and_unknown_names() {
    let dir = scratch("only");
    let site_file = copy_example(&dir, "seed-ch5.toml");
    let site = load(&site_file).unwrap();
    let mut calls = Vec::new();
    let (keys, made) = ensure_keys(&site, &dir, &mut fake_generate(&mut calls)).unwrap();
    assert_eq!(made.len(), 5);
    let out = dir.join("out");
    let w = write_configs(&site, &dir, &keys, &out, Some("home-home2")).unwrap();
    assert_eq!(w.len(), 1);
    assert!(out.join("home-home2/connect.sh").exists());
    assert!(!out.join("vpn").exists());
    let e = write_configs(&site, &dir, &keys, &out, Some("office9"))
        .unwrap_err()
        .to_string();
    assert!(
        e.contains("there is no router or home user `office9`"),
        "{e}"
    );
    assert!(
        e.contains("use one of: vpn, office10, office11, home1, home2"),
        "{e}"
    );
}

#[test]
fn a_key_another_router_owns_is_refused() {
    let dir = scratch("claimed");
    let site_file = copy_example(&dir, "demo.toml");
    fs::create_dir_all(dir.join("keys")).unwrap();
    fs::write(dir.join("keys/office1.ed25519.owner"), "office7\n").unwrap();
    let site = load(&site_file).unwrap();
    let mut calls = Vec::new();
    let e = ensure_keys(&site, &dir, &mut fake_generate(&mut calls))
        .unwrap_err()
        .to_string();
    assert!(e.contains("is the private key of `office7`"), "{e}");
}

#[test]
fn an_invalid_site_is_refused_with_every_mistake_and_nothing_written() {
    let dir = scratch("invalid");
    let site_file = dir.join("site.toml");
    let text = fs::read_to_string(copy_example(&dir, "demo.toml")).unwrap();
    fs::write(
        &site_file,
        text.replace("192.168.1.1/24", "10.0.0.1/24")
            .replace("192.168.1.10-192.168.1.99", "10.0.0.10-10.0.0.99")
            .replace("accept = [\"office1\"]", "accept = [\"office2\"]"),
    )
    .unwrap();
    let e = load(&site_file).unwrap_err().to_string();
    assert_eq!(e.matches(": error: ").count(), 2, "{e}");
    assert!(!dir.join("keys").exists());
}

#[test]
fn the_table_says_what_does_not_fit() {
    let rows = [
        Row {
            name: "office1".into(),
            role: "office".into(),
            cpu: Some(Cpu::I486),
            format: Some(Format::Floppy1440),
            image_bytes: None,
            free_bytes: None,
            problem: Some("does not fit the 1.44 MB floppy: 2048 bytes (2 KiB) too many".into()),
            boot: None,
        },
        Row {
            name: "home1".into(),
            role: "home".into(),
            cpu: None,
            format: None,
            image_bytes: None,
            free_bytes: None,
            problem: None,
            boot: None,
        },
    ];
    let t = table(&rows);
    assert!(t.starts_with("router"), "{t}");
    assert!(
        t.contains("office1      office        i486  floppy1440"),
        "{t}"
    );
    assert!(t.contains("2048 bytes (2 KiB) too many"), "{t}");
    assert!(
        t.contains("home1        home          -     no image"),
        "{t}"
    );
}

#[test]
fn an_unchanged_router_keeps_its_image_only_while_it_is_all_there() {
    let dir = scratch("unchanged");
    let w = Written {
        name: "office1".into(),
        role: "office".into(),
        dir: dir.clone(),
        changed: Vec::new(),
        image: Some((SiteCpu::I486, SiteFormat::Cf)),
    };
    for f in ["bzImage", "initramfs"] {
        fs::write(dir.join(f), b"x").unwrap();
    }
    let medium = Format::Cf.image_name().unwrap();
    fs::write(dir.join(medium), b"x").unwrap();
    fs::write(dir.join(STAMP), "abc\n4096\n1024\n").unwrap();
    // Its image info is what says how the kernel boots.
    assert!(unchanged(&w, Cpu::I486, Format::Cf, "abc").is_none());
    fs::write(
        dir.join(crate::build::IMAGE_INFO),
        "cpu=i486\ncmdline=console=tty0 console=ttyS0,115200 panic=5\n",
    )
    .unwrap();
    let row = unchanged(&w, Cpu::I486, Format::Cf, "abc").expect("kept");
    assert_eq!((row.image_bytes, row.free_bytes), (Some(4096), Some(1024)));
    let boot = row.boot.unwrap();
    assert_eq!(boot.medium, Some((Format::Cf, dir.join(medium))));
    assert_eq!(boot.cmdline, "console=tty0 console=ttyS0,115200 panic=5");
    // Built from something else: built again.
    assert!(unchanged(&w, Cpu::I486, Format::Cf, "abd").is_none());
    // Its medium gone: built again.
    fs::remove_file(dir.join(medium)).unwrap();
    assert!(unchanged(&w, Cpu::I486, Format::Cf, "abc").is_none());
}
