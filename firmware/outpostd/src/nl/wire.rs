//! The netlink wire format every netlink protocol shares (`linux/netlink.h`):
//! message headers, 4-byte aligned attributes and nests, and the reverse —
//! walking a buffer of messages and their attributes.
//!
//! What differs per protocol stays with the protocol: its family header
//! (`nfgenmsg`, `ifaddrmsg`, `rtmsg`, …) is bytes written after
//! [`Writer::begin`] and skipped by [`Message::attrs_after`], and integer
//! byte order is its choice too (nf_tables wants big-endian, rtnetlink host
//! order), so both readers are here and named. Reading goes by the lengths
//! the kernel wrote, never by a struct size: a message or attribute that is
//! longer than expected, or of a type nobody asked for, is skipped, never
//! the reason to drop a whole answer (see `ifreq.rs` for what that cost).

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
/// `NLM_F_REPLACE`: replace what the new object would clash with.
pub const F_REPLACE: u16 = 0x100;
/// `NLM_F_EXCL`: fail with `EEXIST` when the object is there.
pub const F_EXCL: u16 = 0x200;
/// `NLM_F_DUMP`.
pub const F_DUMP: u16 = 0x300;
/// `NLM_F_CREATE`.
pub const F_CREATE: u16 = 0x400;
/// `NLM_F_APPEND`.
pub const F_APPEND: u16 = 0x800;
/// `NLA_F_NESTED`.
pub const NLA_F_NESTED: u16 = 0x8000;
/// `NLA_F_NET_BYTEORDER`.
const NLA_F_NET_BYTEORDER: u16 = 0x4000;

/// `sizeof(struct nlmsghdr)`.
const HDR: usize = 16;

/// `NLMSG_ALIGN` / `NLA_ALIGN`: both round up to 4 bytes.
pub fn align(n: usize) -> usize {
    (n + 3) & !3
}

/// Messages written one after another into one buffer (one request, or
/// one batch).
#[derive(Debug, Default)]
pub struct Writer {
    buf: Vec<u8>,
    msg_start: usize,
}

impl Writer {
    /// Starts a message; the port id is left 0 (the kernel's).
    pub fn begin(&mut self, ty: u16, flags: u16, seq: u32) {
        self.msg_start = self.buf.len();
        self.buf.extend_from_slice(&0u32.to_ne_bytes()); // length, patched in end()
        self.buf.extend_from_slice(&ty.to_ne_bytes());
        self.buf.extend_from_slice(&flags.to_ne_bytes());
        self.buf.extend_from_slice(&seq.to_ne_bytes());
        self.buf.extend_from_slice(&0u32.to_ne_bytes());
    }

    /// The protocol's family header, padded to the alignment.
    pub fn header(&mut self, bytes: &[u8]) {
        self.buf.extend_from_slice(bytes);
        self.pad();
    }

    /// Ends the message begun last.
    pub fn end(&mut self) {
        let len = (self.buf.len() - self.msg_start) as u32;
        self.buf[self.msg_start..self.msg_start + 4].copy_from_slice(&len.to_ne_bytes());
    }

    fn pad(&mut self) {
        self.buf.resize(align(self.buf.len()), 0);
    }

    /// An attribute with raw bytes.
    pub fn bytes(&mut self, ty: u16, value: &[u8]) {
        let len = 4 + value.len();
        self.buf.extend_from_slice(&(len as u16).to_ne_bytes());
        self.buf.extend_from_slice(&ty.to_ne_bytes());
        self.buf.extend_from_slice(value);
        self.pad();
    }

    /// A NUL-terminated string attribute.
    pub fn str(&mut self, ty: u16, value: &str) {
        let mut v = value.as_bytes().to_vec();
        v.push(0);
        self.bytes(ty, &v);
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
    /// What follows the netlink header: the family header, then attributes.
    pub payload: &'a [u8],
}

impl<'a> Message<'a> {
    /// The attributes after a family header of `header_len` bytes (none
    /// when the message is too short to hold that header).
    pub fn attrs_after(&self, header_len: usize) -> Attrs<'a> {
        Attrs(self.payload.get(align(header_len)..).unwrap_or(&[]))
    }

    /// For `NLMSG_ERROR`: the errno (0 for an acknowledgement) and the
    /// sequence number of the message it answers (`struct nlmsgerr`: the
    /// negative errno, then the request's header).
    pub fn error(&self) -> Option<(i32, u32)> {
        if self.ty != NLMSG_ERROR {
            return None;
        }
        let code = i32::from_ne_bytes(self.payload.get(0..4)?.try_into().ok()?);
        let seq = u32::from_ne_bytes(self.payload.get(12..16)?.try_into().ok()?);
        Some((code.wrapping_neg(), seq))
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
        let ty = u16::from_ne_bytes([rest[2], rest[3]]) & !(NLA_F_NESTED | NLA_F_NET_BYTEORDER);
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

    /// A 4-byte attribute, as its bytes (`None` for any other length).
    pub fn four(self, ty: u16) -> Option<[u8; 4]> {
        self.get(ty)?.try_into().ok()
    }

    /// A big-endian u32 attribute (nf_tables' integers).
    pub fn u32_be(self, ty: u16) -> Option<u32> {
        self.four(ty).map(u32::from_be_bytes)
    }

    /// A host-order u32 attribute (rtnetlink's integers).
    pub fn u32_ne(self, ty: u16) -> Option<u32> {
        self.four(ty).map(u32::from_ne_bytes)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn messages_and_attributes_round_trip_with_padding() {
        let mut w = Writer::default();
        w.begin(0x0a06, F_REQUEST, 7);
        w.header(&[1, 0]);
        w.str(1, "outpost");
        let n = w.nest(4);
        w.bytes(1, b"abc");
        w.bytes(2, &0x0102_0304u32.to_be_bytes());
        w.bytes(3, &0x0102_0304u32.to_ne_bytes());
        w.nest_end(n);
        w.end();
        w.begin(NLMSG_DONE, 0, 8);
        w.end();
        let buf = w.into_bytes();
        // header 16 + family header 2 padded to 4 + "outpost\0" 4+8 +
        // nest 4 + (4+3+1 pad) + 8 + 8
        assert_eq!(u32::from_ne_bytes(buf[0..4].try_into().unwrap()), 60);
        let msgs: Vec<Message> = messages(&buf).collect();
        assert_eq!(msgs.len(), 2);
        assert_eq!((msgs[0].ty, msgs[0].flags, msgs[0].seq), (0x0a06, 1, 7));
        assert_eq!(&msgs[0].payload[..4], &[1, 0, 0, 0]);
        let a = msgs[0].attrs_after(2);
        assert_eq!(a.string(1).as_deref(), Some("outpost"));
        let inner = Attrs(a.get(4).unwrap());
        assert_eq!(inner.get(1), Some(&b"abc"[..]));
        assert_eq!(inner.u32_be(2), Some(0x0102_0304));
        assert_eq!(inner.u32_ne(3), Some(0x0102_0304));
        // Wrong length: not a u32, whatever the first bytes say.
        assert_eq!(inner.u32_be(1), None);
        assert_eq!(msgs[1].ty, NLMSG_DONE);
    }

    #[test]
    fn truncated_input_ends_the_walk() {
        let mut w = Writer::default();
        w.begin(NLMSG_DONE, 0, 1);
        w.str(1, "x");
        w.end();
        let buf = w.into_bytes();
        assert_eq!(messages(&buf[..buf.len() - 1]).count(), 0);
        assert_eq!(Attrs(&[8, 0, 1, 0, 1]).count(), 0);
        // A header too short for its family header has no attributes.
        let m = messages(&buf).next().unwrap();
        assert_eq!(m.attrs_after(64).count(), 0);
    }

    #[test]
    fn error_and_ack_name_the_request_they_answer() {
        // struct nlmsgerr: int error, then the request's nlmsghdr.
        let mut w = Writer::default();
        w.begin(NLMSG_ERROR, 0, 9);
        let mut body = (-17i32).to_ne_bytes().to_vec();
        body.extend_from_slice(&[20, 0, 0, 0, 24, 0, 5, 0]); // len, type, flags
        body.extend_from_slice(&42u32.to_ne_bytes()); // the request's seq
        body.extend_from_slice(&0u32.to_ne_bytes());
        w.header(&body);
        w.end();
        let buf = w.into_bytes();
        let m = messages(&buf).next().unwrap();
        assert_eq!(m.error(), Some((17, 42)));
        let mut w = Writer::default();
        w.begin(NLMSG_DONE, 0, 9);
        w.header(&body);
        w.end();
        assert_eq!(messages(&w.into_bytes()).next().unwrap().error(), None);
    }
}
