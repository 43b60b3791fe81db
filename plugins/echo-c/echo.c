// `echo-c`: the `echo` example bot in C, on bindings from `wit-bindgen c`.
//
// Same behaviour as the Rust `plugins/echo`:
// - `!ping` -> `pong`
// - `!echo <text>` -> `<text>`
// - `!count` -> how many messages this plugin has seen in this chat of this
//   session, this one included (kept in kv under `count/<chat>`)
// - `!hello` -> the `greeting` setting (default `hello`)
// Other messages get no answer; messages this account sent itself are ignored.
//
// Ownership (wit-bindgen C): an export owns its arguments and frees them;
// values an import returns belong to the caller; an `err` string handed
// back from an export is freed by the bindings after the call.

#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "plugin.h"

// Decodes the UTF-8 character starting at `s[i]` (input is valid UTF-8).
static uint32_t decode_at(const uint8_t *s, size_t i, size_t *width) {
  uint8_t b = s[i];
  if (b < 0x80) { *width = 1; return b; }
  if (b < 0xE0) { *width = 2; return ((uint32_t)(b & 0x1F) << 6) | (s[i + 1] & 0x3F); }
  if (b < 0xF0) {
    *width = 3;
    return ((uint32_t)(b & 0x0F) << 12) | ((uint32_t)(s[i + 1] & 0x3F) << 6) | (s[i + 2] & 0x3F);
  }
  *width = 4;
  return ((uint32_t)(b & 0x07) << 18) | ((uint32_t)(s[i + 1] & 0x3F) << 12) |
         ((uint32_t)(s[i + 2] & 0x3F) << 6) | (s[i + 3] & 0x3F);
}

// Unicode White_Space, as Rust's `str::trim` uses it.
static bool is_space(uint32_t c) {
  return (c >= 0x09 && c <= 0x0D) || c == 0x20 || c == 0x85 || c == 0xA0 || c == 0x1680 ||
         (c >= 0x2000 && c <= 0x200A) || c == 0x2028 || c == 0x2029 || c == 0x202F ||
         c == 0x205F || c == 0x3000;
}

// Trims Unicode whitespace from both ends of `s[0..len)`.
static void trim(const uint8_t **s, size_t *len) {
  size_t start = 0, end = *len, width;
  while (start < end && is_space(decode_at(*s, start, &width))) start += width;
  while (end > start) {
    size_t back = end - 1;
    while (back > start && ((*s)[back] & 0xC0) == 0x80) back--;
    if (!is_space(decode_at(*s, back, &width))) break;
    end = back;
  }
  *s += start;
  *len = end - start;
}

// Writes `n` in decimal into `out` (at least 21 bytes); returns the length.
static size_t format_u64(uint64_t n, char *out) {
  char reversed[20];
  size_t len = 0;
  do {
    reversed[len++] = (char)('0' + n % 10);
    n /= 10;
  } while (n > 0);
  for (size_t i = 0; i < len; i++) out[i] = reversed[len - 1 - i];
  out[len] = 0;
  return len;
}

static bool equals(const uint8_t *s, size_t len, const char *literal) {
  return len == strlen(literal) && memcmp(s, literal, len) == 0;
}

// Counts one more message in `chat`; stores the new count in `*seen`.
static bool count_message(plugin_string_t *chat, uint64_t *seen, plugin_string_t *err) {
  plugin_string_t key;
  key.len = chat->len + 6;
  key.ptr = malloc(key.len);
  memcpy(key.ptr, "count/", 6);
  memcpy(key.ptr + 6, chat->ptr, chat->len);

  plugin_option_list_u8_t stored;
  if (!purr_bot_kv_get(&key, &stored, err)) {
    plugin_string_free(&key);
    return false;
  }
  uint64_t before = 0;
  if (stored.is_some) {
    // Digits only (a leading `+` allowed), no overflow; anything else counts as 0.
    size_t i = stored.val.len > 0 && stored.val.ptr[0] == '+' ? 1 : 0;
    bool valid = i < stored.val.len;
    for (; valid && i < stored.val.len; i++) {
      uint8_t c = stored.val.ptr[i];
      if (c < '0' || c > '9' || before > (UINT64_MAX - (c - '0')) / 10) valid = false;
      else before = before * 10 + (c - '0');
    }
    if (!valid) before = 0;
    plugin_option_list_u8_free(&stored);
  }
  *seen = before + 1;

  char digits[24];
  size_t n = format_u64(*seen, digits);
  plugin_list_u8_t value = {(uint8_t *)digits, n};
  bool ok = purr_bot_kv_set(&key, &value, err);
  plugin_string_free(&key);
  return ok;
}

static bool answer(purr_bot_types_message_t *message, plugin_string_t *err) {
  uint64_t seen;
  if (!count_message(&message->chat, &seen, err)) return false;

  plugin_string_t *content;
  if (message->content.tag == PURR_BOT_TYPES_CONTENT_TEXT) content = &message->content.val.text;
  else if (message->content.tag == PURR_BOT_TYPES_CONTENT_EXTENDED_TEXT) content = &message->content.val.extended_text.text;
  else return true;

  const uint8_t *text = content->ptr;
  size_t len = content->len;
  trim(&text, &len);

  char digits[24];
  plugin_string_t reply = {0};
  plugin_string_t greeting = {0};
  bool has_greeting = false;
  if (equals(text, len, "!ping")) {
    plugin_string_set(&reply, "pong");
  } else if (len >= 6 && memcmp(text, "!echo ", 6) == 0) {
    reply.ptr = (uint8_t *)text + 6;
    reply.len = len - 6;
  } else if (equals(text, len, "!count")) {
    format_u64(seen, digits);
    plugin_string_set(&reply, digits);
  } else if (equals(text, len, "!hello")) {
    plugin_string_t key;
    plugin_string_set(&key, "greeting");
    has_greeting = purr_bot_config_get(&key, &greeting);
    if (has_greeting) reply = greeting;
    else plugin_string_set(&reply, "hello");
  } else {
    return true;
  }

  purr_bot_messaging_message_id_t sent;
  bool ok = purr_bot_messaging_send_text(&message->chat, &reply, &sent, err);
  if (ok) plugin_string_free(&sent);
  if (has_greeting) plugin_string_free(&greeting);
  return ok;
}

bool exports_purr_bot_handler_init(plugin_string_t *err) {
  (void)err;
  return true;
}

bool exports_purr_bot_handler_handle(exports_purr_bot_handler_context_t *ctx,
                                     exports_purr_bot_handler_event_t *event,
                                     exports_purr_bot_handler_flow_t *ret, plugin_string_t *err) {
  bool ok = true;
  if (event->tag == PURR_BOT_TYPES_EVENT_MESSAGE && !event->val.message.from_me) {
    ok = answer(&event->val.message, err);
  }
  exports_purr_bot_handler_context_free(ctx);
  exports_purr_bot_handler_event_free(event);
  *ret = PURR_BOT_TYPES_FLOW_NEXT;
  return ok;
}
