"""OpenTelemetry tracing for `botgate serve`, set up from the standard OTEL_* variables.

Off unless asked for: `OTEL_TRACES_EXPORTER` (`otlp`, `console`, or both, comma-separated) or
an OTLP endpoint (`OTEL_EXPORTER_OTLP_ENDPOINT`, `OTEL_EXPORTER_OTLP_TRACES_ENDPOINT`) turns it
on; `OTEL_SDK_DISABLED=true` or `OTEL_TRACES_EXPORTER=none` keeps it off. The SDK reads the
rest itself (`OTEL_SERVICE_NAME`, `OTEL_RESOURCE_ATTRIBUTES`, `OTEL_TRACES_SAMPLER`,
`OTEL_BSP_*`, `OTEL_EXPORTER_OTLP_*`). The SDK is the optional extra `botgate[otel]`.
"""

from __future__ import annotations

import os
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from typing import TYPE_CHECKING

from opentelemetry import trace

from gateway import tracing
from gateway.errors import ConfigError

if TYPE_CHECKING:
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.sdk.trace.export import SpanExporter

INSTALL_HINT = "install it with `pip install 'botgate[otel]'`"


@contextmanager
def tracing_from_environment(environ: Mapping[str, str] = os.environ) -> Iterator[bool]:
    """Trace while the block runs if the environment asks for it; flush spans at the end."""
    provider = provider_from_environment(environ)
    if provider is None:
        yield False
        return
    trace.set_tracer_provider(provider)  # for any other instrumentation in the process
    tracing.enable(provider)
    try:
        yield True
    finally:
        tracing.disable()
        provider.shutdown()


def provider_from_environment(environ: Mapping[str, str] = os.environ) -> TracerProvider | None:
    names = exporter_names(environ)
    if not names:
        return None
    try:
        from opentelemetry.sdk.resources import Resource
        from opentelemetry.sdk.trace import TracerProvider
        from opentelemetry.sdk.trace.export import BatchSpanProcessor
    except ImportError:
        raise ConfigError(
            f"tracing is asked for (OTEL_TRACES_EXPORTER={','.join(names)}), but the "
            f"OpenTelemetry SDK is not installed: {INSTALL_HINT}"
        ) from None
    exporters = [_exporter(name, environ) for name in names]
    provider = TracerProvider(resource=Resource.create(_default_resource(environ)))
    for exporter in exporters:
        provider.add_span_processor(BatchSpanProcessor(exporter))
    return provider


def exporter_names(environ: Mapping[str, str]) -> list[str]:
    """The exporters asked for; empty when tracing is off."""
    if environ.get("OTEL_SDK_DISABLED", "").strip().lower() == "true":
        return []
    named = environ.get("OTEL_TRACES_EXPORTER", "").strip()
    endpoint = environ.get("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT") or environ.get(
        "OTEL_EXPORTER_OTLP_ENDPOINT"
    )
    if not named:
        return ["otlp"] if endpoint else []
    names = [name.strip().lower() for name in named.split(",") if name.strip()]
    return [name for name in names if name != "none"]


def _exporter(name: str, environ: Mapping[str, str]) -> SpanExporter:
    if name == "console":
        from opentelemetry.sdk.trace.export import ConsoleSpanExporter

        return ConsoleSpanExporter()
    if name != "otlp":
        raise ConfigError(
            f"OTEL_TRACES_EXPORTER: botgate does not know the exporter {name!r}; "
            "use otlp, console or none"
        )
    protocol = environ.get("OTEL_EXPORTER_OTLP_TRACES_PROTOCOL") or environ.get(
        "OTEL_EXPORTER_OTLP_PROTOCOL", "http/protobuf"
    )
    if protocol == "grpc":
        try:
            from opentelemetry.exporter.otlp.proto.grpc.trace_exporter import (
                OTLPSpanExporter as GrpcExporter,
            )
        except ImportError:
            raise ConfigError(
                "OTEL_EXPORTER_OTLP_PROTOCOL=grpc needs the gRPC exporter: "
                "`pip install opentelemetry-exporter-otlp-proto-grpc` (or use http/protobuf)"
            ) from None
        grpc: SpanExporter = GrpcExporter()
        return grpc
    if protocol != "http/protobuf":
        raise ConfigError(
            f"OTEL_EXPORTER_OTLP_PROTOCOL: {protocol!r} is not supported; use http/protobuf or grpc"
        )
    try:
        from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
    except ImportError:
        raise ConfigError(f"the OTLP exporter is not installed: {INSTALL_HINT}") from None
    return OTLPSpanExporter()


def _default_resource(environ: Mapping[str, str]) -> dict[str, str]:
    """`service.name` botgate, unless the environment names the service."""
    named = "OTEL_SERVICE_NAME" in environ or "service.name=" in environ.get(
        "OTEL_RESOURCE_ATTRIBUTES", ""
    )
    return {} if named else {"service.name": "botgate"}
