# syntax=docker/dockerfile:1
#
# One image for every Relais service. The command picks the service:
#   docker build -t relais:local .
#   docker run --rm relais:local run detector        # tracker by default
#   docker run --rm relais:local topics apply
#
# Stage 1 (builder) resolves the locked workspace into /app/.venv with uv, in two
# layers: third-party dependencies first (rebuilt only when a pyproject.toml or
# uv.lock changes), then the workspace members themselves, installed non-editable
# so that the virtual environment is self-contained.
# Stage 2 (runtime) copies only that environment and runs as an unprivileged user.
# Service images carry no plotting: matplotlib is the `plots` extra of the relais CLI
# package, installed by the development environment only (the root dev group).
#
# OCI labels come from build args; a release build sets them, e.g.
#   docker build --build-arg RELAIS_VERSION=0.1.0 \
#     --build-arg RELAIS_REVISION="$(git rev-parse HEAD)" -t relais:0.1.0 .
# RELAIS_VERSION must be the version of every pyproject.toml (tests/unit/test_release.py).
# The base image is pinned by digest, so a rebuild of the same commit starts from the
# same bytes; the tag stays in front for people. Update both together (Dependabot does
# it: .github/dependabot.yml), after reading the new digest with
#   docker buildx imagetools inspect python:3.11-slim
# tests/unit/test_release.py refuses a FROM that is not pinned by digest.

ARG PYTHON_IMAGE=python:3.11-slim@sha256:9c900dea9e8fb7e16277c179b555cc72d29a352dbc33cff48ad5a0412fd5bfc7
ARG RELAIS_VERSION=0.1.0
ARG RELAIS_REVISION=""
ARG RELAIS_SOURCE=https://github.com/relais/relais

FROM ${PYTHON_IMAGE} AS builder

# uv comes from PyPI, pinned; bump it together with the uv that wrote uv.lock.
ARG UV_VERSION=0.13.9
RUN pip install --no-cache-dir --disable-pip-version-check "uv==${UV_VERSION}"

ENV UV_COMPILE_BYTECODE=1 \
    UV_LINK_MODE=copy \
    UV_PYTHON_DOWNLOADS=never \
    UV_PROJECT_ENVIRONMENT=/app/.venv

WORKDIR /app

# Layer 1: dependencies only. uv needs the root and every member's pyproject.toml
# to check the lock; --no-install-workspace leaves the members themselves out.
# A new workspace member must be added here (tests/unit/test_compose.py checks it).
COPY pyproject.toml uv.lock .python-version ./
COPY contracts/pyproject.toml contracts/pyproject.toml
COPY libs/pyproject.toml libs/pyproject.toml
COPY cli/pyproject.toml cli/pyproject.toml
COPY services/tracker/pyproject.toml services/tracker/pyproject.toml
COPY services/detector/pyproject.toml services/detector/pyproject.toml
COPY services/notifier/pyproject.toml services/notifier/pyproject.toml
COPY services/chat/pyproject.toml services/chat/pyproject.toml
COPY services/actions/pyproject.toml services/actions/pyproject.toml
COPY services/insights/pyproject.toml services/insights/pyproject.toml
RUN --mount=type=cache,target=/root/.cache/uv \
    uv sync --all-packages --locked --no-dev --no-install-workspace

# Layer 2: the workspace members (pyproject.toml and src/), built as wheels.
COPY contracts/ contracts/
COPY libs/ libs/
COPY cli/ cli/
COPY services/ services/
RUN --mount=type=cache,target=/root/.cache/uv \
    uv sync --all-packages --locked --no-dev --no-editable


FROM ${PYTHON_IMAGE} AS runtime

ARG RELAIS_VERSION
ARG RELAIS_REVISION
ARG RELAIS_SOURCE
LABEL org.opencontainers.image.title="relais" \
      org.opencontainers.image.description="Relais services: tracker, detector, notifier, chat, actions, insights" \
      org.opencontainers.image.version="${RELAIS_VERSION}" \
      org.opencontainers.image.revision="${RELAIS_REVISION}" \
      org.opencontainers.image.licenses="Apache-2.0" \
      org.opencontainers.image.source="${RELAIS_SOURCE}"

RUN groupadd --system --gid 10001 relais \
 && useradd --system --uid 10001 --gid relais --create-home --home-dir /home/relais \
        --shell /usr/sbin/nologin relais \
 && mkdir -p /etc/relais/merchants

# Owned by root and read-only for the service user; bytecode was compiled at build.
COPY --from=builder /app/.venv /app/.venv
COPY LICENSE /usr/share/licenses/relais/LICENSE

ENV PATH="/app/.venv/bin:${PATH}" \
    VIRTUAL_ENV=/app/.venv \
    PYTHONUNBUFFERED=1 \
    PYTHONDONTWRITEBYTECODE=1 \
    RELAIS_HTTP_HOST=0.0.0.0 \
    RELAIS_MERCHANTS_DIR=/etc/relais/merchants

WORKDIR /app
USER 10001:10001

# tracker 8001, detector 8002, notifier 8003, chat 8004, actions 8005, insights 8006.
EXPOSE 8001 8002 8003 8004 8005 8006

# curl is not in the slim image: the standard library does the probe. A service
# other than the tracker must set RELAIS_HTTP_PORT (docker-compose.yml does).
HEALTHCHECK --interval=15s --timeout=5s --start-period=30s --retries=3 \
    CMD ["python", "-c", "import os, urllib.request; urllib.request.urlopen('http://127.0.0.1:' + os.environ.get('RELAIS_HTTP_PORT', '8001') + '/health', timeout=4)"]

ENTRYPOINT ["relais"]
CMD ["run", "tracker"]
