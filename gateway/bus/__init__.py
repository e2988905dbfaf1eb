"""The event bus: one contract (`base.Bus`), RabbitMQ and in-process implementations."""
