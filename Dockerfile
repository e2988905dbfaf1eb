FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1 PIP_NO_CACHE_DIR=1
WORKDIR /app
RUN useradd --create-home --uid 10001 botgate

COPY pyproject.toml README.md ./
COPY gateway ./gateway
COPY adapters ./adapters
COPY store ./store
COPY migrations ./migrations
COPY benchmarks ./benchmarks
RUN pip install .

USER botgate
WORKDIR /home/botgate
EXPOSE 8080
ENV BOTGATE_HOST=0.0.0.0
HEALTHCHECK --interval=10s --timeout=3s CMD python -c "import urllib.request,os; urllib.request.urlopen(f'http://127.0.0.1:{os.environ.get(\"BOTGATE_PORT\",\"8080\")}/healthz')"
ENTRYPOINT ["botgate"]
CMD ["serve"]
