//! Text from the network on an operator's terminal: one line, inert.
//!
//! Messages and errors come from remote senders and plugins. Printed raw,
//! `ESC[2J` would clear the screen, OSC 0 retitle the window and OSC 52
//! write the clipboard. [`one_line`] shows every control character
//! escaped instead — C0 and C1 controls, DEL, and the bidirectional
//! overrides that reorder what is shown — so a line prints as exactly one
//! line of plain text. `--json` output is JSON and needs none of this.

use std::borrow::Cow;
use std::fmt::Write as _;

/// `text` as one printable line: `\n`, `\r` and `\t` as those escapes,
/// other control characters as `\x1b` (below U+0080) or `\u{9b}`.
pub fn one_line(text: &str) -> Cow<'_, str> {
    if !text.chars().any(needs_escape) {
        return Cow::Borrowed(text);
    }
    let mut line = String::with_capacity(text.len() + 8);
    for c in text.chars() {
        match c {
            '\n' => line.push_str("\\n"),
            '\r' => line.push_str("\\r"),
            '\t' => line.push_str("\\t"),
            c if needs_escape(c) && (c as u32) < 0x80 => {
                let _ = write!(line, "\\x{:02x}", c as u32);
            }
            c if needs_escape(c) => {
                let _ = write!(line, "\\u{{{:x}}}", c as u32);
            }
            c => line.push(c),
        }
    }
    Cow::Owned(line)
}

fn needs_escape(c: char) -> bool {
    c.is_control() || matches!(c, '\u{202a}'..='\u{202e}' | '\u{2066}'..='\u{2069}')
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn terminal_controls_are_shown_not_obeyed() {
        assert_eq!(one_line("plain ünïcödé 🐱"), "plain ünïcödé 🐱");
        assert!(matches!(one_line("plain"), Cow::Borrowed(_)));
        assert_eq!(one_line("a\nb\r\tc"), "a\\nb\\r\\tc");
        assert_eq!(one_line("\u{1b}[2Jcleared"), "\\x1b[2Jcleared");
        assert_eq!(one_line("\u{1b}]0;title\u{7}"), "\\x1b]0;title\\x07");
        assert_eq!(one_line("\u{1b}]52;c;ZXZpbA==\u{1b}\\"), "\\x1b]52;c;ZXZpbA==\\x1b\\");
        assert_eq!(one_line("del\u{7f} csi\u{9b}2J"), "del\\x7f csi\\u{9b}2J");
        assert_eq!(one_line("abc\u{202e}fed"), "abc\\u{202e}fed");
    }
}
