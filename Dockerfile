# Fieldwarden daemon image: installs the package the way the README does (pip install .),
# runs as an unprivileged user, reads its config from /config/fieldwarden.yaml.
FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    FIELDWARDEN_CONFIG=/config/fieldwarden.yaml

WORKDIR /app
COPY pyproject.toml README.md ./
COPY detector ./detector
COPY connectors ./connectors
RUN pip install ".[postgres]" \
    && useradd --system --uid 10001 --home-dir /var/lib/fieldwarden --create-home fieldwarden \
    && mkdir -p /config /data \
    && chown fieldwarden /data

USER fieldwarden
WORKDIR /data
VOLUME ["/config", "/data"]
EXPOSE 9108

ENTRYPOINT ["fieldwarden"]
CMD ["run"]
