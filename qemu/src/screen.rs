//! The emulated keyboard and the VGA text screen, for tests of a guest's
//! VGA console: text turned into HMP `sendkey` names (US layout, as the
//! kernel's default keymap), and the text-mode frame buffer read back as
//! characters. Pure; [`crate::Machine`] sends and reads through the monitor.

/// The `sendkey` names that type `text` on a US keyboard; `None` names the
/// first character that cannot be typed.
pub fn keys_for(text: &str) -> Result<Vec<String>, char> {
    text.chars()
        .map(|c| {
            let plain = |k: &str| Ok(k.to_string());
            let shift = |k: &str| Ok(format!("shift-{k}"));
            match c {
                'a'..='z' | '0'..='9' => plain(&c.to_string()),
                'A'..='Z' => shift(&c.to_ascii_lowercase().to_string()),
                ' ' => plain("spc"),
                '\n' => plain("ret"),
                '\t' => plain("tab"),
                '-' => plain("minus"),
                '=' => plain("equal"),
                '/' => plain("slash"),
                '.' => plain("dot"),
                ',' => plain("comma"),
                ';' => plain("semicolon"),
                '\'' => plain("apostrophe"),
                '\\' => plain("backslash"),
                '[' => plain("bracket_left"),
                ']' => plain("bracket_right"),
                '`' => plain("grave_accent"),
                '_' => shift("minus"),
                '+' => shift("equal"),
                '?' => shift("slash"),
                '>' => shift("dot"),
                '<' => shift("comma"),
                ':' => shift("semicolon"),
                '"' => shift("apostrophe"),
                '|' => shift("backslash"),
                '!' => shift("1"),
                '@' => shift("2"),
                '#' => shift("3"),
                '$' => shift("4"),
                '%' => shift("5"),
                '^' => shift("6"),
                '&' => shift("7"),
                '*' => shift("8"),
                '(' => shift("9"),
                ')' => shift("0"),
                other => Err(other),
            }
        })
        .collect()
}

/// Physical address and size of the colour text-mode frame buffer: the
/// kernel's vgacon scrolls by moving the start inside it, so the screen
/// is somewhere in these 32 KiB.
pub const TEXT_BUFFER: (u64, usize) = (0xb8000, 0x8000);

/// The characters of a text-mode frame buffer (character, attribute pairs),
/// as lines of `columns`, trailing blanks dropped.
pub fn text_of(buffer: &[u8], columns: usize) -> String {
    let chars: Vec<char> = buffer
        .chunks(2)
        .map(|p| match p[0] {
            0x20..=0x7e => p[0] as char,
            _ => ' ',
        })
        .collect();
    chars
        .chunks(columns.max(1))
        .map(|l| l.iter().collect::<String>().trim_end().to_string())
        .collect::<Vec<_>>()
        .join("\n")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn typing_a_shell_command() {
        assert_eq!(
            keys_for("echo A>/tmp/k_1\n").unwrap(),
            [
                "e",
                "c",
                "h",
                "o",
                "spc",
                "shift-a",
                "shift-dot",
                "slash",
                "t",
                "m",
                "p",
                "slash",
                "k",
                "shift-minus",
                "1",
                "ret"
            ]
        );
        assert_eq!(keys_for("ok€"), Err('€'));
    }

    #[test]
    fn the_frame_buffer_reads_as_lines() {
        let mut b = Vec::new();
        for c in "ab  cd\u{1}".bytes() {
            b.extend([c, 0x07]);
        }
        b.extend([b' ', 0x07]);
        assert_eq!(text_of(&b, 4), "ab\ncd");
    }
}
