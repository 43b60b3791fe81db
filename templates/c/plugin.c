// `{{name}}`: a purr plugin in C (see wit/purr.wit for everything it can do;
// build.sh generates the bindings, plugin.h, from it).
//
// - `!ping` -> `pong`
// - `!hello` -> the `greeting` setting (default `hello`)
//
// Ownership (wit-bindgen C): an export owns its arguments and frees them;
// what an import returns belongs to the caller; an `err` string an export
// hands back is freed by the bindings after the call.

#include <stdbool.h>
#include <string.h>

#include "plugin.h"

static bool is(const plugin_string_t *s, const char *literal) {
  return s->len == strlen(literal) && memcmp(s->ptr, literal, s->len) == 0;
}

bool exports_purr_bot_handler_init(plugin_string_t *err) {
  (void)err;
  return true;
}

bool exports_purr_bot_handler_handle(exports_purr_bot_handler_context_t *ctx,
                                     exports_purr_bot_handler_event_t *event,
                                     exports_purr_bot_handler_flow_t *ret, plugin_string_t *err) {
  bool ok = true;
  *ret = PURR_BOT_TYPES_FLOW_NEXT;
  if (event->tag == PURR_BOT_TYPES_EVENT_MESSAGE && !event->val.message.from_me &&
      event->val.message.content.tag == PURR_BOT_TYPES_CONTENT_TEXT) {
    purr_bot_types_message_t *message = &event->val.message;
    plugin_string_t *text = &message->content.val.text;
    plugin_string_t reply = {0}, greeting = {0};
    bool answer = true, configured = false;
    if (is(text, "!ping")) {
      plugin_string_set(&reply, "pong");
    } else if (is(text, "!hello")) {
      plugin_string_t key;
      plugin_string_set(&key, "greeting");
      configured = purr_bot_config_get(&key, &greeting);
      if (configured) reply = greeting;
      else plugin_string_set(&reply, "hello");
    } else {
      answer = false;
    }
    if (answer) {
      purr_bot_messaging_message_id_t id;
      ok = purr_bot_messaging_send_text(&message->chat, &reply, &id, err);
      if (ok) plugin_string_free(&id);
    }
    if (configured) plugin_string_free(&greeting);
  }
  exports_purr_bot_handler_context_free(ctx);
  exports_purr_bot_handler_event_free(event);
  return ok;
}
