//! The core's [`Ruleset`] as one nf_tables batch: for each of outpost's two
//! tables, "add table" (so the delete cannot fail on a fresh box), "delete
//! table", "add table" again, its chains and rules — between one
//! BATCH_BEGIN and BATCH_END, so the kernel applies all of it or none.
//! Expressions are the ones `nft` itself generates for the same text, so the
//! host's `nft list ruleset` prints what the core's `render_nft` says.

use outpost_core::ruleset::{
    ChainType, CtState, Family, Hook, IcmpType, L4Proto, Match, Policy, Rule, Ruleset, Table,
    Verdict,
};

use super::wire::{self, NftMsg, Writer};
use super::NftError;

// nf_tables.h attribute numbers, grouped by what they belong to.
const TABLE_NAME: u16 = 1;
const CHAIN_TABLE: u16 = 1;
const CHAIN_NAME: u16 = 3;
const CHAIN_HOOK: u16 = 4;
const CHAIN_POLICY: u16 = 5;
const CHAIN_TYPE: u16 = 7;
const HOOK_HOOKNUM: u16 = 1;
const HOOK_PRIORITY: u16 = 2;
const RULE_TABLE: u16 = 1;
const RULE_CHAIN: u16 = 2;
const RULE_EXPRESSIONS: u16 = 4;
const RULE_USERDATA: u16 = 7;
const LIST_ELEM: u16 = 1;
const EXPR_NAME: u16 = 1;
const EXPR_DATA: u16 = 2;
const DATA_VALUE: u16 = 1;
const DATA_VERDICT: u16 = 2;
const VERDICT_CODE: u16 = 1;

const REG_VERDICT: u32 = 0;
const REG_1: u32 = 1;
const IFNAMSIZ: usize = 16;

const META_IIFNAME: u32 = 6;
const META_OIFNAME: u32 = 7;
const META_NFPROTO: u32 = 15;
const META_L4PROTO: u32 = 16;
const CT_STATE: u32 = 0;
const PAYLOAD_NETWORK: u32 = 1;
const PAYLOAD_TRANSPORT: u32 = 2;
const CMP_EQ: u32 = 0;
const CMP_NEQ: u32 = 1;
const NF_DROP: u32 = 0;
const NF_ACCEPT: u32 = 1;
/// `NFT_REJECT_ICMPX_UNREACH` / `_PORT_UNREACH`: what `reject` means in inet
/// when the rule does not pin the family.
const REJECT_ICMPX: (u32, u8) = (2, 1);
/// `NFT_REJECT_ICMP_UNREACH` / ICMP port unreachable: `reject` in ip, or in
/// an inet rule that already matched IPv4.
const REJECT_ICMP: (u32, u8) = (0, 3);
/// `NFTNL_UDATA_RULE_COMMENT`, the TLV nft stores comments under.
const UDATA_COMMENT: u8 = 0;

/// The largest comment nft accepts (`NFTNL_UDATA_COMMENT_MAXLEN`).
const COMMENT_MAX: usize = 128;

/// The family byte of `nfgenmsg`.
pub fn family_byte(f: Family) -> u8 {
    match f {
        Family::Inet => wire::NFPROTO_INET,
        Family::Ip => wire::NFPROTO_IPV4,
    }
}

fn hook_number(h: Hook) -> u32 {
    // NF_INET_PRE_ROUTING = 0, LOCAL_IN, FORWARD, LOCAL_OUT, POST_ROUTING
    match h {
        Hook::Input => 1,
        Hook::Forward => 2,
        Hook::Output => 3,
        Hook::Postrouting => 4,
    }
}

/// Hands out sequence numbers; the first one is the batch's.
#[derive(Debug)]
pub struct Seq(pub u32);

impl Seq {
    fn next(&mut self) -> u32 {
        self.0 = self.0.wrapping_add(1);
        self.0
    }
}

/// A batch's bytes, and the sequence numbers of its messages that the
/// kernel will acknowledge (all but BEGIN/END), each with what it does.
pub type Batch = (Vec<u8>, Vec<(u32, String)>);

/// The batch replacing outpost's tables by `rs`.
pub fn batch(rs: &Ruleset, seq: &mut Seq) -> Result<Batch, NftError> {
    let mut w = Writer::default();
    let mut acked = Vec::new();
    w.begin(
        wire::BATCH_BEGIN,
        wire::F_REQUEST,
        0,
        seq.next(),
        wire::SUBSYS_NFTABLES,
    );
    w.end();
    for t in [&rs.filter, &rs.nat] {
        table(&mut w, t, seq, &mut acked)?;
    }
    w.begin(
        wire::BATCH_END,
        wire::F_REQUEST,
        0,
        seq.next(),
        wire::SUBSYS_NFTABLES,
    );
    w.end();
    Ok((w.into_bytes(), acked))
}

fn table(
    w: &mut Writer,
    t: &Table,
    seq: &mut Seq,
    acked: &mut Vec<(u32, String)>,
) -> Result<(), NftError> {
    let fam = family_byte(t.family);
    let mut msg = |w: &mut Writer, m: NftMsg, flags: u16, what: String| {
        let s = seq.next();
        acked.push((s, what));
        w.begin(
            m.netlink_type(),
            wire::F_REQUEST | wire::F_ACK | flags,
            fam,
            s,
            0,
        );
    };
    let tname = format!("table {} {}", t.family, t.name);
    for m in [NftMsg::NewTable, NftMsg::DelTable, NftMsg::NewTable] {
        let (flags, verb) = if m == NftMsg::NewTable {
            (wire::F_CREATE, "add")
        } else {
            (0, "delete")
        };
        msg(w, m, flags, format!("{verb} {tname}"));
        w.str(TABLE_NAME, &t.name);
        w.end();
    }
    for c in &t.chains {
        msg(
            w,
            NftMsg::NewChain,
            wire::F_CREATE,
            format!("add chain {} in {tname}", c.name),
        );
        w.str(CHAIN_TABLE, &t.name);
        w.str(CHAIN_NAME, &c.name);
        let h = w.nest(CHAIN_HOOK);
        w.u32(HOOK_HOOKNUM, hook_number(c.hook));
        w.u32(HOOK_PRIORITY, c.priority as u32);
        w.nest_end(h);
        w.u32(
            CHAIN_POLICY,
            match c.policy {
                Policy::Accept => NF_ACCEPT,
                Policy::Drop => NF_DROP,
            },
        );
        w.str(
            CHAIN_TYPE,
            match c.kind {
                ChainType::Filter => "filter",
                ChainType::Nat => "nat",
            },
        );
        w.end();
        for r in &c.rules {
            let what = format!("add rule `{r}` to chain {} in {tname}", c.name);
            msg(w, NftMsg::NewRule, wire::F_CREATE | wire::F_APPEND, what);
            w.str(RULE_TABLE, &t.name);
            w.str(RULE_CHAIN, &c.name);
            rule(w, t.family, r)?;
            w.end();
        }
    }
    Ok(())
}

/// The comment exactly as the core renders it, so both read alike.
fn comment_text(c: &str) -> String {
    c.replace(['"', '\\', '\n'], "'")
}

fn rule(w: &mut Writer, family: Family, r: &Rule) -> Result<(), NftError> {
    let list = w.nest(RULE_EXPRESSIONS);
    let mut e = Exprs {
        w,
        family,
        nfproto_ipv4: false,
    };
    for m in &r.matches {
        e.matching(m)?;
    }
    e.verdict(r.verdict);
    w.nest_end(list);
    if let Some(c) = &r.comment {
        let text = comment_text(c);
        if text.len() + 1 > COMMENT_MAX {
            return Err(NftError::Encode(format!(
                "comment longer than {} bytes: {text}",
                COMMENT_MAX - 1
            )));
        }
        let mut ud = vec![UDATA_COMMENT, (text.len() + 1) as u8];
        ud.extend_from_slice(text.as_bytes());
        ud.push(0);
        w.bytes(RULE_USERDATA, &ud);
    }
    Ok(())
}

/// Writes one rule's expressions, remembering which protocol
/// dependencies the rule already has (nft emits each once per rule).
struct Exprs<'w> {
    w: &'w mut Writer,
    family: Family,
    nfproto_ipv4: bool,
}

impl Exprs<'_> {
    fn expr(&mut self, name: &str, body: impl FnOnce(&mut Writer)) {
        let el = self.w.nest(LIST_ELEM);
        self.w.str(EXPR_NAME, name);
        let data = self.w.nest(EXPR_DATA);
        body(self.w);
        self.w.nest_end(data);
        self.w.nest_end(el);
    }

    fn meta(&mut self, key: u32) {
        self.expr("meta", |w| {
            w.u32(2, key); // NFTA_META_KEY
            w.u32(1, REG_1); // NFTA_META_DREG
        });
    }

    fn cmp(&mut self, op: u32, value: &[u8]) {
        self.expr("cmp", |w| {
            w.u32(1, REG_1); // NFTA_CMP_SREG
            w.u32(2, op); // NFTA_CMP_OP
            let d = w.nest(3); // NFTA_CMP_DATA
            w.bytes(DATA_VALUE, value);
            w.nest_end(d);
        });
    }

    fn payload(&mut self, base: u32, offset: u32, len: u32) {
        self.expr("payload", |w| {
            w.u32(1, REG_1); // NFTA_PAYLOAD_DREG
            w.u32(2, base);
            w.u32(3, offset);
            w.u32(4, len);
        });
    }

    fn bitwise(&mut self, mask: &[u8]) {
        self.expr("bitwise", |w| {
            w.u32(1, REG_1); // SREG
            w.u32(2, REG_1); // DREG
            w.u32(3, mask.len() as u32); // LEN
            let m = w.nest(4); // MASK
            w.bytes(DATA_VALUE, mask);
            w.nest_end(m);
            let x = w.nest(5); // XOR
            w.bytes(DATA_VALUE, &vec![0; mask.len()]);
            w.nest_end(x);
        });
    }

    /// `meta nfproto ipv4`, which an inet table needs before it can look
    /// at IPv4 header fields; an ip table has it implicitly.
    fn need_ipv4(&mut self) {
        if self.family == Family::Inet && !self.nfproto_ipv4 {
            self.meta(META_NFPROTO);
            self.cmp(CMP_EQ, &[wire::NFPROTO_IPV4]);
            self.nfproto_ipv4 = true;
        }
    }

    fn l4proto(&mut self, p: L4Proto) {
        self.meta(META_L4PROTO);
        self.cmp(CMP_EQ, &[p.number()]);
    }

    fn ifname(&mut self, key: u32, name: &str) -> Result<(), NftError> {
        // A trailing `*` compares only the prefix, as nft does.
        let value = match name.strip_suffix('*') {
            Some(prefix) => prefix.as_bytes().to_vec(),
            None => {
                let mut v = name.as_bytes().to_vec();
                v.resize(IFNAMSIZ, 0);
                v
            }
        };
        if name.len() >= IFNAMSIZ || value.is_empty() {
            return Err(NftError::Encode(format!("bad interface name `{name}`")));
        }
        self.meta(key);
        self.cmp(CMP_EQ, &value);
        Ok(())
    }

    fn matching(&mut self, m: &Match) -> Result<(), NftError> {
        match m {
            Match::IifName(n) => self.ifname(META_IIFNAME, n)?,
            Match::OifName(n) => self.ifname(META_OIFNAME, n)?,
            Match::SAddr(net) | Match::DAddr(net) => {
                self.need_ipv4();
                let offset = if matches!(m, Match::SAddr(_)) { 12 } else { 16 };
                self.payload(PAYLOAD_NETWORK, offset, 4);
                let prefix = u32::from(net.prefix());
                let mask = u32::MAX.checked_shl(32 - prefix).unwrap_or(0);
                if prefix < 32 {
                    self.bitwise(&mask.to_be_bytes());
                }
                let addr = u32::from(net.addr()) & mask;
                self.cmp(CMP_EQ, &addr.to_be_bytes());
            }
            Match::CtState(states) => {
                let bits = states.iter().fold(0u32, |acc, s| acc | CtState::bit(*s));
                self.expr("ct", |w| {
                    w.u32(2, CT_STATE); // NFTA_CT_KEY
                    w.u32(1, REG_1); // NFTA_CT_DREG
                });
                // ct state is a host-order bitmask in the kernel.
                self.bitwise(&bits.to_ne_bytes());
                self.cmp(CMP_NEQ, &[0; 4]);
            }
            Match::L4Proto(p) => {
                if *p == L4Proto::Icmp {
                    self.need_ipv4();
                }
                self.l4proto(*p);
            }
            Match::Dport(p, port) => {
                if *p == L4Proto::Icmp {
                    return Err(NftError::Encode("icmp has no ports".into()));
                }
                self.l4proto(*p);
                self.payload(PAYLOAD_TRANSPORT, 2, 2);
                self.cmp(CMP_EQ, &port.to_be_bytes());
            }
            Match::Icmp(t) => {
                self.need_ipv4();
                self.l4proto(L4Proto::Icmp);
                self.payload(PAYLOAD_TRANSPORT, 0, 1);
                self.cmp(CMP_EQ, &[IcmpType::number(*t)]);
            }
        }
        Ok(())
    }

    fn verdict(&mut self, v: Verdict) {
        let code = match v {
            Verdict::Accept => NF_ACCEPT,
            Verdict::Drop => NF_DROP,
            Verdict::Reject => {
                // nft picks plain ICMP once the rule is known to be IPv4.
                let (ty, code) = match self.family {
                    Family::Inet if !self.nfproto_ipv4 => REJECT_ICMPX,
                    _ => REJECT_ICMP,
                };
                self.expr("reject", |w| {
                    w.u32(1, ty); // NFTA_REJECT_TYPE
                    w.bytes(2, &[code]); // NFTA_REJECT_ICMP_CODE
                });
                return;
            }
            Verdict::Masquerade => {
                self.expr("masq", |_| {});
                return;
            }
        };
        self.expr("immediate", |w| {
            w.u32(1, REG_VERDICT); // NFTA_IMMEDIATE_DREG
            let d = w.nest(2); // NFTA_IMMEDIATE_DATA
            let v = w.nest(DATA_VERDICT);
            w.u32(VERDICT_CODE, code);
            w.nest_end(v);
            w.nest_end(d);
        });
    }
}
