"""Slack: Events API, commands and interactivity over HTTP or Socket Mode, through slack_sdk."""

from adapters.slack.adapter import SlackAdapter

__all__ = ["SlackAdapter"]
