//! The netlink wire format as nf_tables uses it: the shared netlink
//! messages and attributes ([`crate::nl::wire`]) with the `nfgenmsg` family
//! header and big-endian integers, as nf_tables wants. Constants are the
//! kernel's uapi values (`linux/netfilter/nfnetlink.h`, `nf_tables.h`).

use crate::nl::wire as nl;

pub use nl::{messages, Attrs, Message, F_ACK, F_APPEND, F_CREATE, F_DUMP, F_REQUEST};

/// `NFNL_MSG_BATCH_BEGIN`.
pub const BATCH_BEGIN: u16 = 0x10;
/// `NFNL_MSG_BATCH_END`.
pub const BATCH_END: u16 = 0x11;
/// `NFNL_SUBSYS_NFTABLES`.
pub const SUBSYS_NFTABLES: u16 = 10;
/// `NFPROTO_INET`.
pub const NFPROTO_INET: u8 = 1;
/// `NFPROTO_IPV4`.
pub const NFPROTO_IPV4: u8 = 2;

/// `NFT_MSG_*`, the nf_tables message kinds outpostd sends.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[repr(u16)]
pub enum NftMsg {
    /// `NFT_MSG_NEWTABLE`.
    NewTable = 0,
    /// `NFT_MSG_DELTABLE`.
    DelTable = 2,
    /// `NFT_MSG_NEWCHAIN`.
    NewChain = 3,
    /// `NFT_MSG_GETCHAIN`.
    GetChain = 4,
    /// `NFT_MSG_NEWRULE`.
    NewRule = 6,
    /// `NFT_MSG_GETRULE`.
    GetRule = 7,
}

impl NftMsg {
    /// The netlink message type: subsystem in the high byte.
    pub fn netlink_type(self) -> u16 {
        (SUBSYS_NFTABLES << 8) | self as u16
    }
}

/// `sizeof(struct nfgenmsg)`, the family header of every nf_tables message.
pub const NFGEN: usize = 4;

/// nf_tables messages written one after another into one buffer (one
/// batch): the shared netlink writer with `nfgenmsg` headers and
/// nf_tables' big-endian integers.
#[derive(Debug, Default)]
pub struct Writer(nl::Writer);

impl Writer {
    /// Starts a message; `res_id` goes into `nfgenmsg` (the subsystem for
    /// batch delimiters, 0 otherwise).
    pub fn begin(&mut self, ty: u16, flags: u16, family: u8, seq: u32, res_id: u16) {
        self.0.begin(ty, flags, seq);
        let [r0, r1] = res_id.to_be_bytes();
        self.0.header(&[family, 0 /* NFNETLINK_V0 */, r0, r1]);
    }

    /// A big-endian u32 attribute.
    pub fn u32(&mut self, ty: u16, value: u32) {
        self.0.bytes(ty, &value.to_be_bytes());
    }

    /// The bytes written so far.
    pub fn into_bytes(self) -> Vec<u8> {
        self.0.into_bytes()
    }
}

/// `end`, `bytes`, `str`, `nest`, `nest_end`: as netlink has them.
impl std::ops::Deref for Writer {
    type Target = nl::Writer;
    fn deref(&self) -> &nl::Writer {
        &self.0
    }
}

impl std::ops::DerefMut for Writer {
    fn deref_mut(&mut self) -> &mut nl::Writer {
        &mut self.0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn messages_carry_nfgenmsg_and_big_endian_integers() {
        let mut w = Writer::default();
        w.begin(
            NftMsg::NewRule.netlink_type(),
            F_REQUEST,
            NFPROTO_INET,
            7,
            0x0102,
        );
        w.str(1, "outpost");
        w.u32(2, 0x0102_0304);
        w.end();
        let buf = w.into_bytes();
        let msgs: Vec<Message> = messages(&buf).collect();
        assert_eq!(msgs.len(), 1);
        assert_eq!(msgs[0].seq, 7);
        assert_eq!(msgs[0].ty, (10 << 8) | 6);
        // nfgenmsg: family, version NFNETLINK_V0, res_id big-endian
        assert_eq!(&msgs[0].payload[..NFGEN], &[NFPROTO_INET, 0, 1, 2]);
        let a = msgs[0].attrs_after(NFGEN);
        assert_eq!(a.string(1).as_deref(), Some("outpost"));
        assert_eq!(a.get(2), Some(&[1, 2, 3, 4][..]));
        assert_eq!(a.u32_be(2), Some(0x0102_0304));
    }
}
