"""Text rules shared by every purr SDK: trimming, command tokens, arguments.

Trimming removes Unicode White_Space at both ends, exactly as Rust's
`str::trim` does. Python's own `str.strip()` is not used: it also strips
U+001C..U+001F (which are not White_Space).
"""

# Unicode White_Space (the property Rust's `char::is_whitespace` tests).
WHITESPACE = (
    "\t\n\x0b\x0c\r \x85\xa0\u1680"
    "\u2000\u2001\u2002\u2003\u2004\u2005\u2006\u2007\u2008\u2009\u200a"
    "\u2028\u2029\u202f\u205f\u3000"
)
_WS = frozenset(WHITESPACE)
_QUOTES = "\"'"


def trim(text: str) -> str:
    """`text` without Unicode White_Space at either end (Rust's `str::trim`)."""
    return text.strip(WHITESPACE)


def is_space(char: str) -> bool:
    """Whether `char` is a Unicode White_Space character."""
    return char in _WS


def command_token(text: str):
    """Splits a command off a message text.

    Returns `(name, rest)` when `text`, trimmed, starts with `/` or `!` and a
    name that ends at the end of the text or at a White_Space char: `name`
    is lowercased and `rest` is what follows the name and ONE White_Space
    char, otherwise unchanged. Returns None for any other text.
    """
    text = trim(text)
    if len(text) < 2 or text[0] not in "/!":
        return None
    end = 1
    length = len(text)
    while end < length and text[end] not in _WS:
        end += 1
    return text[1:end].lower(), text[end + 1:]


def split_args(text: str) -> list:
    """Splits `text` on runs of White_Space; quotes group words.

    `"double"` or `'single'` quotes group words and are removed; inside
    quotes a backslash escapes the quote that opened them; an unterminated
    quote runs to the end. `one "two words"  three` ->
    `["one", "two words", "three"]`.
    """
    args = []
    current = None  # the word being read, None between words
    quote = None  # the quote char we are inside, if any
    i = 0
    length = len(text)
    while i < length:
        char = text[i]
        i += 1
        if quote is not None:
            if char == "\\" and i < length and text[i] == quote:
                current += quote
                i += 1
            elif char == quote:
                quote = None
            else:
                current += char
        elif char in _WS:
            if current is not None:
                args.append(current)
                current = None
        elif char in _QUOTES:
            quote = char
            if current is None:
                current = ""
        else:
            current = char if current is None else current + char
    if current is not None:
        args.append(current)
    return args
