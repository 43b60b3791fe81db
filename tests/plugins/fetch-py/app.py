"""`fetch-py`: outbound HTTP from a Python plugin (purr_sdk.http), for the
host's wasi:http tests. For every text message:

- `GET <url>` -> `<status> <body>`
- `POST <url> <body...>` -> POSTs the rest of the line (text/plain),
  answers `<status> <body>`
- any error -> `error: <message>`
"""

from purr_sdk import Bot, http

bot = Bot()


@bot.on("message:text")
def fetch(ctx):
    parts = ctx.text.split(maxsplit=2)
    try:
        if not parts:
            return
        if parts[0] == "GET" and len(parts) >= 2:
            response = http.get(parts[1])
        elif parts[0] == "POST" and len(parts) >= 2:
            body = parts[2] if len(parts) > 2 else ""
            response = http.post(parts[1], body, headers={"content-type": "text/plain"})
        else:
            return
        ctx.send(f"{response.status} {response.text()}")
    except Exception as error:
        ctx.send(f"error: {error}")


Handler = bot.handler()
