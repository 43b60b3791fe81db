"""Trimming, command tokens and argument splitting (purr_sdk.text)."""

import unittest

import fake_wit  # noqa: F401  (the fake bindings, before purr_sdk)
from purr_sdk.text import WHITESPACE, command_token, split_args, trim


class Trim(unittest.TestCase):
    def test_trims_unicode_white_space_like_rust(self):
        self.assertEqual(trim("\u0085\u00a0!ping\u3000\u2029"), "!ping")
        self.assertEqual(trim(" \t\n\r\x0b\x0c x \u1680\u2000\u200a\u2028\u202f\u205f"), "x")

    def test_keeps_what_is_not_white_space(self):
        # str.strip() would remove U+001C..U+001F: Rust's trim does not.
        self.assertEqual("\x1c!ping".strip(), "!ping")
        self.assertEqual(trim("\x1c!ping\x1f"), "\x1c!ping\x1f")
        self.assertEqual(trim("\ufeff!ping"), "\ufeff!ping")
        self.assertEqual(trim("\u200b!ping\u200b"), "\u200b!ping\u200b")

    def test_whitespace_is_exactly_the_unicode_property(self):
        import re
        import sys

        expected = [c for c in map(chr, range(sys.maxunicode + 1)) if c in WHITESPACE]
        self.assertEqual(len(expected), 25)
        for char in map(chr, range(0x3001)):
            # Python's \s is White_Space plus U+001C..U+001F.
            python_space = bool(re.match(r"\s", char)) and char not in "\x1c\x1d\x1e\x1f"
            self.assertEqual(char in WHITESPACE, python_space, hex(ord(char)))


class CommandToken(unittest.TestCase):
    def test_splits_name_and_rest(self):
        self.assertEqual(command_token("!echo hello world"), ("echo", "hello world"))
        self.assertEqual(command_token("/echo hello"), ("echo", "hello"))

    def test_rest_keeps_all_but_one_space(self):
        self.assertEqual(command_token("!echo  two spaces  "), ("echo", " two spaces"))
        self.assertEqual(command_token("!echo\u3000\u3000x"), ("echo", "\u3000x"))

    def test_no_rest(self):
        self.assertEqual(command_token("!echo"), ("echo", ""))
        self.assertEqual(command_token("  !echo \t"), ("echo", ""))

    def test_name_is_lowercased(self):
        self.assertEqual(command_token("!PiNg"), ("ping", ""))

    def test_not_a_command(self):
        for text in ("ping", "!", "", "   ", "x!ping", "\x1c!ping"):
            self.assertIsNone(command_token(text), repr(text))


class SplitArgs(unittest.TestCase):
    def test_runs_of_white_space(self):
        self.assertEqual(split_args("one   two\t\u3000three"), ["one", "two", "three"])
        self.assertEqual(split_args("  "), [])
        self.assertEqual(split_args(""), [])

    def test_quotes_group_words(self):
        self.assertEqual(split_args('one "two words"  three'), ["one", "two words", "three"])
        self.assertEqual(split_args("'single  quoted' x"), ["single  quoted", "x"])
        self.assertEqual(split_args("\"it's\" 'say \"hi\"'"), ["it's", 'say "hi"'])

    def test_quotes_inside_a_word_and_empty_quotes(self):
        self.assertEqual(split_args('a"b c"d'), ["ab cd"])
        self.assertEqual(split_args('x "" y'), ["x", "", "y"])

    def test_backslash_escapes_the_quote_inside_quotes(self):
        self.assertEqual(split_args(r'"say \"hi\"" x'), ['say "hi"', "x"])
        self.assertEqual(split_args(r"'it\'s'"), ["it's"])
        # Elsewhere a backslash is an ordinary char.
        # Outside quotes a backslash is an ordinary char (and `"` opens a quote).
        self.assertEqual(split_args(r'a\b c\"d'), ["a\\b", "c\\d"])

    def test_unterminated_quote_runs_to_the_end(self):
        self.assertEqual(split_args('one "two  three'), ["one", "two  three"])


if __name__ == "__main__":
    unittest.main()
