//! The nf_tables edge: loads the core's [`Ruleset`] into the kernel as one
//! netlink transaction and reads outpost's tables back to tell whether they
//! are still what was loaded. Only `table ip outpost` and
//! `table ip outpost_nat` are ever touched; other tables survive.
//!
//! outpostd speaks nf_tables netlink itself (a small encoder on a raw
//! NETLINK_NETFILTER socket, see the README for why not rustables): the
//! router has no `nft`.

mod encode;
mod firewall;
mod readback;
mod socket;
mod wire;

use outpost_core::ruleset::Ruleset;

pub use firewall::{apply_firewall, rules_report};
pub use readback::{ChainView, TableView};

/// Why the firewall could not be loaded or read.
#[derive(Debug, thiserror::Error)]
pub enum NftError {
    /// No NETLINK_NETFILTER socket (no nf_tables in the kernel, or no rights).
    #[error("cannot open the nf_tables netlink socket: {0}")]
    Open(#[source] std::io::Error),
    /// Sending or receiving failed.
    #[error("nf_tables netlink: {0}")]
    Io(#[source] std::io::Error),
    /// The ruleset cannot be expressed (a core bug, or a bad name).
    #[error("cannot encode the ruleset: {0}")]
    Encode(String),
    /// The kernel refused the transaction; nothing of it took effect.
    #[error(
        "the kernel refused the firewall ({what}): {source}; the previous rules stay in force"
    )]
    Rejected {
        /// The message it refused.
        what: String,
        /// The kernel's errno.
        #[source]
        source: std::io::Error,
    },
}

/// The outcome of comparing the kernel's tables with what was loaded.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Verification {
    /// What outpostd loaded, decoded.
    pub loaded: Vec<TableView>,
    /// What the kernel holds now, decoded the same way.
    pub kernel: Vec<TableView>,
    /// The first difference, if any.
    pub difference: Option<String>,
}

impl Verification {
    /// Whether the kernel holds exactly what was loaded.
    pub fn matches(&self) -> bool {
        self.difference.is_none()
    }

    /// One line for people.
    pub fn summary(&self) -> String {
        let tables: Vec<String> = self
            .kernel
            .iter()
            .map(|t| {
                format!(
                    "{}: {} chains, {} rules",
                    t.name,
                    t.chains.len(),
                    t.rule_count()
                )
            })
            .collect();
        match &self.difference {
            None => format!(
                "kernel: matches what outpostd loaded ({}; hooks, policies, every expression and comment compared)",
                tables.join("; ")
            ),
            Some(d) => format!("kernel: DIFFERS from what outpostd loaded: {d}"),
        }
    }
}

/// A connection to the kernel's nf_tables.
#[derive(Debug)]
pub struct NfTables {
    sock: socket::Socket,
    seq: encode::Seq,
}

impl NfTables {
    /// Opens the netlink socket.
    pub fn open() -> Result<NfTables, NftError> {
        let sock = socket::Socket::open().map_err(NftError::Open)?;
        // Any start will do; distinct per process makes traces readable.
        Ok(NfTables {
            sock,
            seq: encode::Seq(std::process::id() << 8),
        })
    }

    /// Replaces outpost's tables with `rs` in one transaction: on any
    /// error the kernel keeps the previous tables.
    pub fn load(&mut self, rs: &Ruleset) -> Result<(), NftError> {
        let begin = self.seq.0.wrapping_add(1);
        let (buf, acked) = encode::batch(rs, &mut self.seq)?;
        let seqs: Vec<u32> = acked.iter().map(|(s, _)| *s).collect();
        match self
            .sock
            .transact(&buf, begin, &seqs)
            .map_err(NftError::Io)?
        {
            None => Ok(()),
            Some((errno, seq)) => {
                let what = acked
                    .iter()
                    .find(|(s, _)| *s == seq)
                    .map_or_else(|| "the batch".to_string(), |(_, w)| w.clone());
                Err(NftError::Rejected {
                    what,
                    source: std::io::Error::from_raw_os_error(errno),
                })
            }
        }
    }

    /// Outpost's tables as the kernel holds them now.
    pub fn read(&mut self, rs: &Ruleset) -> Result<Vec<TableView>, NftError> {
        let wanted = wanted(rs);
        let mut raw: Vec<Vec<u8>> = Vec::new();
        let mut families = vec![
            encode::family_byte(rs.filter.family),
            encode::family_byte(rs.nat.family),
        ];
        // One dump per family: both tables in `ip` must not be read twice.
        families.dedup();
        for family in families {
            for what in [wire::NftMsg::GetChain, wire::NftMsg::GetRule] {
                let seq = self.seq_next();
                let req = readback::dump_request(what, family, seq);
                self.sock
                    .dump(&req, |m| raw.push(message_bytes(m)))
                    .map_err(NftError::Io)?;
            }
        }
        let msgs = raw.iter().flat_map(|b| wire::messages(b));
        let wanted_ref: Vec<(u8, &str)> = wanted.iter().map(|(f, n)| (*f, n.as_str())).collect();
        Ok(readback::collect(msgs, &wanted_ref))
    }

    /// Compares the kernel's tables with `rs` as this encoder writes it.
    pub fn verify(&mut self, rs: &Ruleset) -> Result<Verification, NftError> {
        let (buf, _) = encode::batch(rs, &mut encode::Seq(0))?;
        let wanted = wanted(rs);
        let wanted_ref: Vec<(u8, &str)> = wanted.iter().map(|(f, n)| (*f, n.as_str())).collect();
        let loaded = readback::collect(wire::messages(&buf), &wanted_ref);
        let kernel = self.read(rs)?;
        let difference = readback::first_difference(&loaded, &kernel);
        Ok(Verification {
            loaded,
            kernel,
            difference,
        })
    }

    fn seq_next(&mut self) -> u32 {
        self.seq.0 = self.seq.0.wrapping_add(1);
        self.seq.0
    }
}

fn wanted(rs: &Ruleset) -> Vec<(u8, String)> {
    [&rs.filter, &rs.nat]
        .iter()
        .map(|t| (encode::family_byte(t.family), t.name.clone()))
        .collect()
}

/// A received message re-serialised on its own, so messages outlive the
/// receive buffer they came in.
fn message_bytes(m: &wire::Message) -> Vec<u8> {
    let len = (16 + m.payload.len()) as u32;
    let mut v = Vec::with_capacity(len as usize);
    v.extend_from_slice(&len.to_ne_bytes());
    v.extend_from_slice(&m.ty.to_ne_bytes());
    v.extend_from_slice(&m.flags.to_ne_bytes());
    v.extend_from_slice(&m.seq.to_ne_bytes());
    v.extend_from_slice(&0u32.to_ne_bytes());
    v.extend_from_slice(m.payload);
    v
}
