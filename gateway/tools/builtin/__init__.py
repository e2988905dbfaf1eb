"""The built-in tools: help, notes (remember / forget), identities (link / unlink), language."""
