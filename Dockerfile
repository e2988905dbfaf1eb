# botgate: one image for every role (`botgate serve --role all|gateway|core|adapters`).
FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1 PIP_NO_CACHE_DIR=1 PIP_DISABLE_PIP_VERSION_CHECK=1
WORKDIR /app
RUN useradd --create-home --uid 10001 --user-group botgate

COPY pyproject.toml README.md ./
COPY gateway ./gateway
COPY adapters ./adapters
COPY store ./store
COPY migrations ./migrations
COPY benchmarks ./benchmarks
RUN pip install . && rm -rf /app

# Never root: the service needs no privileges (it listens above port 1023).
USER botgate
WORKDIR /home/botgate
EXPOSE 8080
ENV BOTGATE_HOST=0.0.0.0 BOTGATE_PORT=8080
# Ready, not just alive: the database answers, migrations are current, the bus is connected.
HEALTHCHECK --interval=10s --timeout=5s --start-period=30s --retries=3 \
  CMD ["python", "-m", "gateway.healthcheck"]
# SIGTERM stops intake and lets the batch in hand finish (server.shutdown_grace).
STOPSIGNAL SIGTERM
ENTRYPOINT ["botgate"]
CMD ["serve"]
