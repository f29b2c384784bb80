//! Markdown tables padded to line up, so the same text reads well on the
//! terminal `make bench` prints to and renders in `docs/benchmarks.md`.

/// A table: a header row, then rows of cells; numbers columns right-aligned.
#[derive(Debug, Clone, Default)]
pub struct Table {
    headers: Vec<String>,
    right: Vec<bool>,
    rows: Vec<Vec<String>>,
}

impl Table {
    /// A table with these column headers, every column left-aligned.
    pub fn new(headers: &[&str]) -> Self {
        Table {
            headers: headers.iter().map(|h| h.to_string()).collect(),
            right: vec![false; headers.len()],
            rows: Vec::new(),
        }
    }

    /// Right-aligns the columns numbered in `columns` (from 0): numbers.
    pub fn right(mut self, columns: &[usize]) -> Self {
        for &c in columns {
            if let Some(r) = self.right.get_mut(c) {
                *r = true;
            }
        }
        self
    }

    /// Adds a row; missing cells are empty, extra ones are dropped.
    pub fn row<S: Into<String>>(&mut self, cells: impl IntoIterator<Item = S>) {
        let mut r: Vec<String> = cells.into_iter().map(Into::into).collect();
        r.resize(self.headers.len(), String::new());
        self.rows.push(r);
    }

    /// Whether it has no rows.
    pub fn is_empty(&self) -> bool {
        self.rows.is_empty()
    }

    /// The table as Markdown, each column padded to its widest cell.
    pub fn render(&self) -> String {
        let cell = |s: &str| s.replace('|', "\\|").replace('\n', " ");
        let header: Vec<String> = self.headers.iter().map(|h| cell(h)).collect();
        let rows: Vec<Vec<String>> = self
            .rows
            .iter()
            .map(|r| r.iter().map(|c| cell(c)).collect())
            .collect();
        let widths: Vec<usize> = (0..header.len())
            .map(|i| {
                rows.iter()
                    .map(|r| r[i].chars().count())
                    .chain([header[i].chars().count(), 3])
                    .max()
                    .unwrap_or(3)
            })
            .collect();
        let line = |cells: &[String]| {
            let padded: Vec<String> = cells
                .iter()
                .enumerate()
                .map(|(i, c)| pad(c, widths[i], self.right[i]))
                .collect();
            format!("| {} |\n", padded.join(" | "))
        };
        let rule: Vec<String> = widths
            .iter()
            .zip(&self.right)
            .map(|(&w, &r)| {
                if r {
                    format!("{}:", "-".repeat(w - 1))
                } else {
                    "-".repeat(w)
                }
            })
            .collect();
        let mut out = line(&header);
        out.push_str(&format!("| {} |\n", rule.join(" | ")));
        for r in &rows {
            out.push_str(&line(r));
        }
        out
    }
}

fn pad(s: &str, width: usize, right: bool) -> String {
    let fill = " ".repeat(width.saturating_sub(s.chars().count()));
    if right {
        format!("{fill}{s}")
    } else {
        format!("{s}{fill}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pads_columns_and_aligns_numbers_right() {
        let mut t = Table::new(&["figure", "s"]).right(&[1]);
        t.row(["tunnel up", "7.8"]);
        t.row(["first packet", "12.25"]);
        assert_eq!(
            t.render(),
            "| figure       |     s |\n\
             | ------------ | ----: |\n\
             | tunnel up    |   7.8 |\n\
             | first packet | 12.25 |\n"
        );
    }

    #[test]
    fn escapes_pipes_and_fills_short_rows() {
        let mut t = Table::new(&["a", "b"]);
        t.row(["x|y"]);
        assert_eq!(
            t.render(),
            "| a    | b   |\n| ---- | --- |\n| x\\|y |     |\n"
        );
    }

    #[test]
    fn counts_characters_not_bytes() {
        let mut t = Table::new(&["n"]);
        t.row(["≥ 30"]);
        assert_eq!(t.render(), "| n    |\n| ---- |\n| ≥ 30 |\n");
    }
}
