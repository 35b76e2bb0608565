# Vigil: `docker build -t vigil .`, then run it with compose.yaml (PostgreSQL, migrations first) or on its own:
#   docker run --rm --env-file .env -v vigil-data:/data vigil vigil migrate
#   docker run -d --env-file .env -p 8080:8080 -v vigil-data:/data vigil
# The sidecar listens on 0.0.0.0:8080 (/healthz, /readyz, /metrics). The working directory is /data, so the default
# SQLite database (vigil.db) lives there: keep it on a volume, and run one container per database file.
FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1

RUN groupadd --system --gid 10001 vigil \
    && useradd --system --uid 10001 --gid vigil --home-dir /data --create-home --shell /usr/sbin/nologin vigil

WORKDIR /src
COPY pyproject.toml README.md LICENSE ./
COPY bot ./bot
COPY commands ./commands
COPY listeners ./listeners
COPY integrations ./integrations
COPY db ./db
RUN pip install . && rm -rf /src/build

# Listen beyond the container's loopback, so a published port, Prometheus and (later) webhooks reach the sidecar.
ENV VIGIL_HTTP_HOST=0.0.0.0

USER vigil
WORKDIR /data
VOLUME ["/data"]
EXPOSE 8080

# No curl in the slim image: the standard library asks /healthz, which answers as soon as the process is up.
HEALTHCHECK --interval=30s --timeout=5s --start-period=30s --retries=3 \
    CMD ["python", "-c", "import os, urllib.request; urllib.request.urlopen('http://127.0.0.1:' + os.environ.get('VIGIL_HTTP_PORT', '8080') + '/healthz', timeout=4)"]

CMD ["vigil", "run"]
