//! The concentrator: accounts and files per peer, dropbear supervised, and
//! each peer's routes following its ppp link.
