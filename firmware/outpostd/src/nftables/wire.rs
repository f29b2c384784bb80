//! The netlink wire format as nf_tables uses it: message headers with the
//! `nfgenmsg` family header, 4-byte aligned attributes (integers big-endian,
//! as nf_tables wants), nests, and the reverse — walking a buffer of
//! messages and their attributes. Constants are the kernel's uapi values
//! (`linux/netlink.h`, `linux/netfilter/nfnetlink.h`, `nf_tables.h`).

/// `NLMSG_ERROR`: an error or an acknowledgement.
pub const NLMSG_ERROR: u16 = 2;
/// `NLMSG_DONE`: end of a dump.
pub const NLMSG_DONE: u16 = 3;
/// `NLM_F_REQUEST`.
pub const F_REQUEST: u16 = 0x1;
/// `NLM_F_MULTI`: part of a multi-part answer.
pub const F_MULTI: u16 = 0x2;
/// `NLM_F_ACK`: answer with an acknowledgement.
pub const F_ACK: u16 = 0x4;
/// `NLM_F_DUMP`.
pub const F_DUMP: u16 = 0x300;
/// `NLM_F_CREATE`.
pub const F_CREATE: u16 = 0x400;
/// `NLM_F_APPEND`.
pub const F_APPEND: u16 = 0x800;
/// `NLA_F_NESTED`.
pub const NLA_F_NESTED: u16 = 0x8000;
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

const HDR: usize = 16;
const NFGEN: usize = 4;

/// Messages written one after another into one buffer (one batch).
#[derive(Debug, Default)]
pub struct Writer {
    buf: Vec<u8>,
    msg_start: usize,
}

fn align(n: usize) -> usize {
    (n + 3) & !3
}

impl Writer {
    /// Starts a message; `res_id` goes into `nfgenmsg` (the subsystem for
    /// batch delimiters, 0 otherwise).
    pub fn begin(&mut self, ty: u16, flags: u16, family: u8, seq: u32, res_id: u16) {
        self.msg_start = self.buf.len();
        self.buf.extend_from_slice(&0u32.to_ne_bytes()); // length, patched in end()
        self.buf.extend_from_slice(&ty.to_ne_bytes());
        self.buf.extend_from_slice(&flags.to_ne_bytes());
        self.buf.extend_from_slice(&seq.to_ne_bytes());
        self.buf.extend_from_slice(&0u32.to_ne_bytes()); // port id: the kernel's
        self.buf.push(family);
        self.buf.push(0); // NFNETLINK_V0
        self.buf.extend_from_slice(&res_id.to_be_bytes());
    }

    /// Ends the message begun last.
    pub fn end(&mut self) {
        let len = (self.buf.len() - self.msg_start) as u32;
        self.buf[self.msg_start..self.msg_start + 4].copy_from_slice(&len.to_ne_bytes());
    }

    /// An attribute with raw bytes.
    pub fn bytes(&mut self, ty: u16, value: &[u8]) {
        let len = 4 + value.len();
        self.buf.extend_from_slice(&(len as u16).to_ne_bytes());
        self.buf.extend_from_slice(&ty.to_ne_bytes());
        self.buf.extend_from_slice(value);
        self.buf.resize(self.buf.len() + align(len) - len, 0);
    }

    /// A NUL-terminated string attribute.
    pub fn str(&mut self, ty: u16, value: &str) {
        let mut v = value.as_bytes().to_vec();
        v.push(0);
        self.bytes(ty, &v);
    }

    /// A big-endian u32 attribute.
    pub fn u32(&mut self, ty: u16, value: u32) {
        self.bytes(ty, &value.to_be_bytes());
    }

    /// Opens a nest; pass the returned mark to [`Writer::nest_end`].
    pub fn nest(&mut self, ty: u16) -> usize {
        let at = self.buf.len();
        self.buf.extend_from_slice(&0u16.to_ne_bytes());
        self.buf
            .extend_from_slice(&(ty | NLA_F_NESTED).to_ne_bytes());
        at
    }

    /// Closes a nest opened by [`Writer::nest`].
    pub fn nest_end(&mut self, mark: usize) {
        let len = (self.buf.len() - mark) as u16;
        self.buf[mark..mark + 2].copy_from_slice(&len.to_ne_bytes());
    }

    /// The bytes written so far.
    pub fn into_bytes(self) -> Vec<u8> {
        self.buf
    }
}

/// One message read back.
#[derive(Debug, Clone, Copy)]
pub struct Message<'a> {
    /// The netlink message type.
    pub ty: u16,
    /// Its flags.
    pub flags: u16,
    /// Its sequence number.
    pub seq: u32,
    /// What follows the netlink header.
    pub payload: &'a [u8],
}

impl<'a> Message<'a> {
    /// The attributes after the `nfgenmsg` header.
    pub fn attrs(&self) -> Attrs<'a> {
        Attrs(self.payload.get(NFGEN..).unwrap_or(&[]))
    }

    /// For `NLMSG_ERROR`: the errno (0 for an acknowledgement) and the
    /// sequence number of the message it answers.
    pub fn error(&self) -> Option<(i32, u32)> {
        if self.ty != NLMSG_ERROR {
            return None;
        }
        let code = i32::from_ne_bytes(self.payload.get(0..4)?.try_into().ok()?);
        let seq = u32::from_ne_bytes(self.payload.get(12..16)?.try_into().ok()?);
        Some((-code, seq))
    }
}

/// Walks the messages in a received buffer; stops at anything truncated.
pub fn messages(buf: &[u8]) -> impl Iterator<Item = Message<'_>> {
    let mut rest = buf;
    std::iter::from_fn(move || {
        if rest.len() < HDR {
            return None;
        }
        let len = u32::from_ne_bytes(rest[0..4].try_into().ok()?) as usize;
        if len < HDR || len > rest.len() {
            return None;
        }
        let m = Message {
            ty: u16::from_ne_bytes(rest[4..6].try_into().ok()?),
            flags: u16::from_ne_bytes(rest[6..8].try_into().ok()?),
            seq: u32::from_ne_bytes(rest[8..12].try_into().ok()?),
            payload: &rest[HDR..len],
        };
        rest = rest.get(align(len)..).unwrap_or(&[]);
        Some(m)
    })
}

/// The attributes in a buffer, as (type without flags, value).
#[derive(Debug, Clone, Copy)]
pub struct Attrs<'a>(pub &'a [u8]);

impl<'a> Iterator for Attrs<'a> {
    type Item = (u16, &'a [u8]);

    fn next(&mut self) -> Option<Self::Item> {
        let rest = self.0;
        if rest.len() < 4 {
            return None;
        }
        let len = u16::from_ne_bytes([rest[0], rest[1]]) as usize;
        let ty = u16::from_ne_bytes([rest[2], rest[3]]) & !(NLA_F_NESTED | 0x4000);
        if len < 4 || len > rest.len() {
            self.0 = &[];
            return None;
        }
        self.0 = rest.get(align(len)..).unwrap_or(&[]);
        Some((ty, &rest[4..len]))
    }
}

impl<'a> Attrs<'a> {
    /// The first attribute of this type.
    pub fn get(self, ty: u16) -> Option<&'a [u8]> {
        self.into_iter().find(|(t, _)| *t == ty).map(|(_, v)| v)
    }

    /// A string attribute without its NUL.
    pub fn string(self, ty: u16) -> Option<String> {
        let v = self.get(ty)?;
        let v = v.split(|b| *b == 0).next().unwrap_or(v);
        Some(String::from_utf8_lossy(v).into_owned())
    }

    /// A big-endian u32 attribute.
    pub fn u32(self, ty: u16) -> Option<u32> {
        Some(u32::from_be_bytes(self.get(ty)?.try_into().ok()?))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn messages_and_attributes_round_trip_with_padding() {
        let mut w = Writer::default();
        w.begin(
            NftMsg::NewRule.netlink_type(),
            F_REQUEST,
            NFPROTO_INET,
            7,
            0,
        );
        w.str(1, "outpost");
        let n = w.nest(4);
        w.bytes(1, b"abc");
        w.u32(2, 0x0102_0304);
        w.nest_end(n);
        w.end();
        w.begin(NLMSG_DONE, 0, 0, 8, 0);
        w.end();
        let buf = w.into_bytes();
        let msgs: Vec<Message> = messages(&buf).collect();
        assert_eq!(msgs.len(), 2);
        assert_eq!(msgs[0].seq, 7);
        assert_eq!(msgs[0].ty, (10 << 8) | 6);
        let a = msgs[0].attrs();
        assert_eq!(a.string(1).as_deref(), Some("outpost"));
        let inner = Attrs(a.get(4).unwrap());
        assert_eq!(inner.get(1), Some(&b"abc"[..]));
        assert_eq!(inner.u32(2), Some(0x0102_0304));
        assert_eq!(msgs[1].ty, NLMSG_DONE);
    }

    #[test]
    fn truncated_input_ends_the_walk() {
        let mut w = Writer::default();
        w.begin(NLMSG_DONE, 0, 0, 1, 0);
        w.str(1, "x");
        w.end();
        let buf = w.into_bytes();
        assert_eq!(messages(&buf[..buf.len() - 1]).count(), 0);
        assert_eq!(Attrs(&[8, 0, 1, 0, 1]).count(), 0);
    }
}
