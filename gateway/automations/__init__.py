"""Automations (`[[automations]]`): a cron schedule or an event pattern makes a bot send a
message or run a tool. The core role runs them; each firing is claimed in the database
(`automation_runs`), so it runs once however many core processes see it, and its outcome is
recorded there for the admin API (`GET /api/v1/automations`).

- `service`: mirrors the configuration into `system_automations` and runs the rest;
- `schedule`: the cron scheduler; `triggers`: the event consumer (queue `botgate.automations`);
- `runner`: claims a firing, does it, records the outcome; `ToolRunner` is how it runs tools.
"""
