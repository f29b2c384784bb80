//! Reading outpost's tables back from the kernel and comparing them with
//! what outpostd sent. Both sides go through the same decoder: the batch
//! outpostd built is parsed like a kernel dump, so the comparison covers
//! every table, chain (hook, priority, policy, type), rule order, every
//! expression's operands (registers, keys, offsets, masks, compared values,
//! verdicts) and every comment — not merely counts. Attributes the kernel
//! adds on its own (handles, positions, bitwise's default op) are left out.

use std::fmt::Write as _;

use super::wire::{self, Attrs, Message, NftMsg, Writer};

/// One table as the kernel holds it (or as outpostd asked for it).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TableView {
    /// `nfgenmsg` family.
    pub family: u8,
    /// Table name.
    pub name: String,
    /// Chains in kernel order.
    pub chains: Vec<ChainView>,
}

/// One chain with its rules in canonical text.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ChainView {
    /// Chain name.
    pub name: String,
    /// Hook number and priority, for base chains.
    pub hook: Option<(u32, i32)>,
    /// Policy verdict code.
    pub policy: Option<u32>,
    /// `filter`, `nat`.
    pub kind: Option<String>,
    /// Each rule's expressions and userdata, canonical.
    pub rules: Vec<String>,
}

impl TableView {
    /// Number of rules in all chains.
    pub fn rule_count(&self) -> usize {
        self.chains.iter().map(|c| c.rules.len()).sum()
    }
}

fn family_of(m: &Message) -> u8 {
    m.payload.first().copied().unwrap_or(0)
}

fn chain_view(a: Attrs) -> ChainView {
    let hook = a.get(4).map(|h| {
        let h = Attrs(h);
        (
            h.u32_be(1).unwrap_or(u32::MAX),
            h.u32_be(2).unwrap_or(0) as i32,
        )
    });
    ChainView {
        name: a.string(3).unwrap_or_default(),
        hook,
        policy: a.u32_be(5),
        kind: a.string(7),
        rules: Vec::new(),
    }
}

/// Which attributes of an expression are compared, and which of them
/// are nests (data, verdicts) to be compared by content.
fn compared(name: &str) -> Option<(&'static [u16], &'static [u16])> {
    Some(match name {
        "cmp" => (&[1, 2, 3], &[3]),
        "payload" => (&[1, 2, 3, 4], &[]),
        "meta" | "ct" => (&[1, 2], &[]),
        "bitwise" => (&[1, 2, 3, 4, 5], &[4, 5]),
        "immediate" => (&[1, 2], &[2]),
        "reject" => (&[1, 2], &[]),
        "masq" => (&[], &[]),
        _ => return None,
    })
}

/// Data nests (`NFTA_DATA_VALUE`, `NFTA_DATA_VERDICT` → code/chain),
/// flattened to text with padding gone.
fn flat_data(v: &[u8], out: &mut String) {
    for (t, inner) in Attrs(v) {
        if t == 2 {
            out.push_str("verdict[");
            for (vt, vv) in Attrs(inner) {
                let _ = write!(out, "{vt}={} ", hex(vv));
            }
            out.push(']');
        } else {
            let _ = write!(out, "{t}={} ", hex(inner));
        }
    }
}

fn hex(v: &[u8]) -> String {
    v.iter().map(|b| format!("{b:02x}")).collect()
}

/// A rule's canonical text: each expression as `name(attr=value …)`,
/// then the userdata.
fn rule_text(a: Attrs) -> String {
    let mut out = String::new();
    for (_, el) in Attrs(a.get(4).unwrap_or(&[])) {
        let el = Attrs(el);
        let name = el.string(1).unwrap_or_default();
        let data = Attrs(el.get(2).unwrap_or(&[]));
        let _ = write!(out, "{name}(");
        match compared(&name) {
            Some((keep, nested)) => {
                let mut attrs: Vec<(u16, &[u8])> = data.filter(|(t, _)| keep.contains(t)).collect();
                attrs.sort_by_key(|(t, _)| *t);
                for (t, v) in attrs {
                    let _ = write!(out, "{t}=");
                    if nested.contains(&t) {
                        out.push('{');
                        flat_data(v, &mut out);
                        out.push('}');
                    } else {
                        out.push_str(&hex(v));
                    }
                    out.push(' ');
                }
            }
            // an expression outpostd never writes: show it raw, so it differs
            None => out.push_str(&hex(data.0)),
        }
        out.push_str(") ");
    }
    if let Some(ud) = a.get(7) {
        let _ = write!(out, "userdata={}", hex(ud));
    }
    out
}

/// Collects tables from NEWTABLE/NEWCHAIN/NEWRULE-shaped messages (the
/// batch outpostd sent, or the kernel's dumps), keeping only `wanted`
/// (family, name) tables, in `wanted` order.
pub fn collect<'a>(
    messages: impl IntoIterator<Item = Message<'a>>,
    wanted: &[(u8, &str)],
) -> Vec<TableView> {
    let mut tables: Vec<TableView> = wanted
        .iter()
        .map(|(f, n)| TableView {
            family: *f,
            name: n.to_string(),
            chains: Vec::new(),
        })
        .collect();
    for m in messages {
        let fam = family_of(&m);
        let a = m.attrs_after(wire::NFGEN);
        let kind = m.ty & 0xff;
        if m.ty >> 8 != wire::SUBSYS_NFTABLES {
            continue;
        }
        if kind == NftMsg::NewChain as u16 {
            let table = a.string(1).unwrap_or_default();
            if let Some(t) = tables
                .iter_mut()
                .find(|t| t.family == fam && t.name == table)
            {
                t.chains.push(chain_view(a));
            }
        } else if kind == NftMsg::NewRule as u16 {
            let table = a.string(1).unwrap_or_default();
            let chain = a.string(2).unwrap_or_default();
            if let Some(c) = tables
                .iter_mut()
                .find(|t| t.family == fam && t.name == table)
                .and_then(|t| t.chains.iter_mut().find(|c| c.name == chain))
            {
                c.rules.push(rule_text(a));
            }
        }
    }
    tables
}

/// The dump request for all chains, or all rules, of one family.
pub fn dump_request(what: NftMsg, family: u8, seq: u32) -> Vec<u8> {
    let mut w = Writer::default();
    w.begin(
        what.netlink_type(),
        wire::F_REQUEST | wire::F_DUMP,
        family,
        seq,
        0,
    );
    w.end();
    w.into_bytes()
}

/// The first difference between what was loaded and what the kernel has,
/// in words; `None` when they are the same.
pub fn first_difference(loaded: &[TableView], kernel: &[TableView]) -> Option<String> {
    for (want, have) in loaded.iter().zip(kernel) {
        let t = &want.name;
        let names = |v: &TableView| v.chains.iter().map(|c| c.name.clone()).collect::<Vec<_>>();
        if names(want) != names(have) {
            return Some(format!(
                "table {t}: chains {:?} expected, the kernel has {:?}",
                names(want),
                names(have)
            ));
        }
        for (wc, hc) in want.chains.iter().zip(&have.chains) {
            let c = &wc.name;
            if (&wc.hook, &wc.policy, &wc.kind) != (&hc.hook, &hc.policy, &hc.kind) {
                return Some(format!(
                    "table {t} chain {c}: hook, priority, policy or type differ"
                ));
            }
            if wc.rules.len() != hc.rules.len() {
                return Some(format!(
                    "table {t} chain {c}: {} rules loaded, the kernel has {}",
                    wc.rules.len(),
                    hc.rules.len()
                ));
            }
            if let Some(i) = wc.rules.iter().zip(&hc.rules).position(|(a, b)| a != b) {
                return Some(format!("table {t} chain {c}: rule {} differs", i + 1));
            }
        }
    }
    None
}
