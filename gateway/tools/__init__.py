"""Tools: what a bot can do. One registry holds every tool (built-ins, `[tools.NAME]` tables of
kind http, bus and python, and packages' `botgate.tools` entry points); each bot's responder
chain is built from its config; the core runs the chain after it has committed a batch."""
