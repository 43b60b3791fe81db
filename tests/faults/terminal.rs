//! Untrusted text on the operator's terminal.

use crate::common::{ECHO_ALONE, TestConfig, run_purr};

/// Text from a remote sender (echoed back by the bot) that would drive the
/// operator's terminal: clear the screen, set the window title, write the
/// clipboard. `purr chat` prints it inert, on one line.
#[test]
fn terminal_controls_in_messages_are_printed_escaped() {
    let config = TestConfig::new(ECHO_ALONE);
    let input = "!echo \u{1b}[2Jcleared\n!echo \u{1b}]0;owned\u{7}title\n!echo \u{1b}]52;c;ZXZpbA==\u{7}clip\n";
    let output = run_purr(&["chat", "s", "-c", config.path.to_str().unwrap()], input, |_| {});
    assert!(output.status.success(), "{}", String::from_utf8_lossy(&output.stderr));
    let stdout = String::from_utf8(output.stdout).unwrap();
    assert!(
        !stdout.contains('\u{1b}') && !stdout.contains('\u{7}'),
        "raw controls printed: {stdout:?}"
    );
    assert_eq!(
        stdout.lines().collect::<Vec<_>>(),
        [
            "\\x1b[2Jcleared",
            "\\x1b]0;owned\\x07title",
            "\\x1b]52;c;ZXZpbA==\\x07clip"
        ]
    );
}
