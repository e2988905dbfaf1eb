"""The kinds of `[tools.NAME]`: `http` (another service over HTTP), `bus` (another service
over the bus), `python` (code in this process, also from `botgate.tools` entry points)."""
