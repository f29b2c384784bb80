//! The rehearsal's one table: each pair (or fault) with what the policy
//! expects, what the packets did and how long it took; mismatches marked,
//! with the consoles' lines that explain them printed after the table.

use std::time::Duration;

/// One line of the table.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Line {
    /// The pair (`office1 → private`) or the fault.
    pub what: String,
    /// Where it comes from: `policy`, `test:LINE`, `fault`.
    pub origin: String,
    /// What is expected.
    pub expected: String,
    /// What happened.
    pub observed: String,
    /// How long it took.
    pub time: Duration,
    /// Whether it is as expected.
    pub ok: bool,
    /// For a mismatch: the consoles' lines that explain it.
    pub detail: String,
}

/// The table, then each mismatch's detail.
pub fn table(lines: &[Line]) -> String {
    let w = lines
        .iter()
        .map(|l| l.what.chars().count())
        .max()
        .unwrap_or(4)
        .max(4);
    let e = lines
        .iter()
        .map(|l| l.expected.chars().count())
        .max()
        .unwrap_or(8)
        .max(8);
    let mut s = format!(
        "   {:<w$}  {:<9}  {:<e$}  {:<40}  {:>7}\n",
        "pair", "from", "expected", "observed", "time"
    );
    for l in lines {
        s.push_str(&format!(
            "{}  {:<w$}  {:<9}  {:<e$}  {:<40}  {:>6.1}s\n",
            if l.ok { "ok" } else { "!!" },
            l.what,
            l.origin,
            l.expected,
            l.observed,
            l.time.as_secs_f64()
        ));
    }
    let bad: Vec<&Line> = lines.iter().filter(|l| !l.ok).collect();
    if bad.is_empty() {
        s.push_str(&format!("all {} as expected\n", lines.len()));
    } else {
        s.push_str(&format!(
            "{} of {} NOT as expected\n",
            bad.len(),
            lines.len()
        ));
        for l in bad {
            s.push_str(&format!(
                "\n--- {}: expected {}, observed {}\n{}",
                l.what, l.expected, l.observed, l.detail
            ));
            if !l.detail.ends_with('\n') {
                s.push('\n');
            }
        }
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    fn line(what: &str, ok: bool) -> Line {
        Line {
            what: what.into(),
            origin: "policy".into(),
            expected: "accept".into(),
            observed: if ok { "accepted" } else { "refused" }.into(),
            time: Duration::from_millis(1500),
            ok,
            detail: if ok {
                String::new()
            } else {
                "head: dropped".into()
            },
        }
    }

    #[test]
    fn mismatches_are_marked_counted_and_explained() {
        let t = table(&[
            line("office1 → private", true),
            line("private → office1", false),
        ]);
        assert!(t.contains("ok  office1 → private"), "{t}");
        assert!(t.contains("!!  private → office1"), "{t}");
        assert!(t.contains("1 of 2 NOT as expected"), "{t}");
        assert!(
            t.contains("--- private → office1: expected accept, observed refused\nhead: dropped\n"),
            "{t}"
        );
        let t = table(&[line("a → b", true)]);
        assert!(t.ends_with("all 1 as expected\n"), "{t}");
    }
}
