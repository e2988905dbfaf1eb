"""The assistant: a language model behind any OpenAI-compatible chat-completions API answers a
bot's plain messages, with the person's notes, the session's history, knowledge-base passages
and the bot's tools as functions, streamed into the platform while it is written.

- `client`: the chat-completions client (streamed and not), errors as `ModelError`.
- `prompt`: what the model is sent, trimmed to its context.
- `functions`: the bot's tools as OpenAI functions, and their calls run through the tool runner.
- `budget`: tokens per day per bot, requests per minute per person.
- `responder`: the link of the bot's responder chain that puts it together.
- `passages`: the Protocol for knowledge-base passages (the `kb` package implements it).
"""
