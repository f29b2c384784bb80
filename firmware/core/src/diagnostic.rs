//! [`Diagnostic`]: one problem found in a config file, with where it is
//! (file, line, column), what is wrong and how to fix it. Validation
//! collects every diagnostic rather than stopping at the first.

use std::fmt;

/// Where in a config file something is: 1-based line and column.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub struct Location {
    /// 1-based line number.
    pub line: usize,
    /// 1-based column, counted in characters.
    pub column: usize,
}

impl Location {
    /// The location of byte offset `offset` in `text`.
    pub fn of_offset(text: &str, offset: usize) -> Self {
        let mut offset = offset.min(text.len());
        while !text.is_char_boundary(offset) {
            offset -= 1;
        }
        let before = text.get(..offset).unwrap_or(text);
        let line = before.matches('\n').count() + 1;
        let line_start = before.rfind('\n').map_or(0, |i| i + 1);
        let column = before
            .get(line_start..)
            .map_or(1, |s| s.trim_end_matches('\r').chars().count() + 1);
        Location { line, column }
    }
}

/// One problem in a config file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Diagnostic {
    /// The file's name as given.
    pub file: String,
    /// Where the problem is.
    pub at: Location,
    /// What is wrong.
    pub message: String,
    /// How to fix it, when there is something useful to say.
    pub hint: Option<String>,
}

impl fmt::Display for Diagnostic {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{}:{}:{}: error: {}",
            self.file, self.at.line, self.at.column, self.message
        )?;
        if let Some(h) = &self.hint {
            write!(f, "\n  hint: {h}")?;
        }
        Ok(())
    }
}

/// Several diagnostics, displayed one after another (one per paragraph).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Diagnostics(pub Vec<Diagnostic>);

impl fmt::Display for Diagnostics {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, d) in self.0.iter().enumerate() {
            if i > 0 {
                writeln!(f)?;
            }
            write!(f, "{d}")?;
        }
        Ok(())
    }
}

/// What a validator of one file collects into: its name, its text (for
/// locations) and the diagnostics so far. The config's and the site's
/// validators share how they report (`err`) and parse a value (`parse`).
pub(crate) trait Collect {
    /// The file's name, its text and the diagnostics so far.
    fn parts(&mut self) -> (&str, &str, &mut Vec<Diagnostic>);

    /// Records a problem at `span` of the text, with a hint unless empty.
    fn err(
        &mut self,
        span: std::ops::Range<usize>,
        message: impl Into<String>,
        hint: impl Into<String>,
    ) {
        let hint: String = hint.into();
        let (file, text, diags) = self.parts();
        let at = Location::of_offset(text, span.start);
        diags.push(Diagnostic {
            file: file.to_string(),
            at,
            message: message.into(),
            hint: (!hint.is_empty()).then_some(hint),
        });
    }

    /// Parses a string value, recording `what: error` and `hint` at it.
    fn parse<T: std::str::FromStr>(
        &mut self,
        s: &toml::Spanned<String>,
        what: &str,
        hint: &str,
    ) -> Option<T>
    where
        T::Err: fmt::Display,
    {
        match s.get_ref().trim().parse::<T>() {
            Ok(v) => Some(v),
            Err(e) => {
                self.err(s.span(), format!("{what}: {e}"), hint);
                None
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn location_counts_lines_and_chars() {
        let t = "a = 1\r\nbé = 2\n";
        assert_eq!(Location::of_offset(t, 0), Location { line: 1, column: 1 });
        assert_eq!(Location::of_offset(t, 7), Location { line: 2, column: 1 });
        // the byte after "bé" (é is two bytes): column 3
        assert_eq!(Location::of_offset(t, 10), Location { line: 2, column: 3 });
        // inside a multi-byte char does not panic
        assert_eq!(Location::of_offset(t, 9).line, 2);
    }

    #[test]
    fn display_has_file_line_col_and_hint() {
        let d = Diagnostic {
            file: "o.toml".into(),
            at: Location { line: 3, column: 7 },
            message: "bad".into(),
            hint: Some("fix it".into()),
        };
        assert_eq!(d.to_string(), "o.toml:3:7: error: bad\n  hint: fix it");
    }
}
