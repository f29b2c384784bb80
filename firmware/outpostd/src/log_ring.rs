//! The fixed-size in-RAM log: the last [`RING_LINES`] lines of at most
//! [`LINE_BYTES`] bytes each, in a heapless ring allocated once, so a router
//! with 16 MB and no disk never grows its log. `outpostd log` reads it.

use heapless::{Deque, String};

/// How many lines the ring keeps.
pub const RING_LINES: usize = 64;
/// The longest line kept, in bytes; longer lines are cut at a character boundary.
pub const LINE_BYTES: usize = 160;

/// The ring of recent log lines.
pub struct LogRing {
    lines: Deque<String<LINE_BYTES>, RING_LINES>,
    dropped: u32,
}

impl Default for LogRing {
    fn default() -> Self {
        Self::new()
    }
}

impl LogRing {
    /// An empty ring.
    pub const fn new() -> Self {
        LogRing {
            lines: Deque::new(),
            dropped: 0,
        }
    }

    /// Appends `line`, forgetting the oldest line when full.
    pub fn push(&mut self, line: &str) {
        let mut cut = line.len().min(LINE_BYTES);
        while !line.is_char_boundary(cut) {
            cut -= 1;
        }
        let mut s = String::new();
        // Cannot fail: `cut` is at most the capacity.
        let _ = s.push_str(&line[..cut]);
        if self.lines.is_full() {
            self.lines.pop_front();
            self.dropped = self.dropped.saturating_add(1);
        }
        let _ = self.lines.push_back(s);
    }

    /// The kept lines, oldest first.
    pub fn lines(&self) -> impl Iterator<Item = &str> {
        self.lines.iter().map(|s| s.as_str())
    }

    /// How many lines have been forgotten since start.
    pub fn dropped(&self) -> u32 {
        self.dropped
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keeps_the_newest_lines_in_order() {
        let mut r = LogRing::new();
        for i in 0..RING_LINES + 5 {
            r.push(&format!("line {i}"));
        }
        let kept: Vec<&str> = r.lines().collect();
        assert_eq!(kept.len(), RING_LINES);
        assert_eq!(kept[0], "line 5");
        assert_eq!(kept[RING_LINES - 1], format!("line {}", RING_LINES + 4));
        assert_eq!(r.dropped(), 5);
    }

    #[test]
    fn cuts_long_lines_on_a_character_boundary() {
        let mut r = LogRing::new();
        let long = "é".repeat(LINE_BYTES); // 2 bytes each
        r.push(&long);
        let kept = r.lines().next().unwrap();
        assert_eq!(kept.len(), LINE_BYTES);
        assert!(kept.chars().all(|c| c == 'é'));
        let odd = format!("x{}", "é".repeat(LINE_BYTES));
        r.push(&odd);
        assert_eq!(r.lines().nth(1).unwrap().len(), LINE_BYTES - 1);
    }
}
