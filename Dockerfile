FROM python:3.11-slim
RUN apt-get update && apt-get install -y --no-install-recommends ffmpeg espeak-ng make \
    && rm -rf /var/lib/apt/lists/*
# Point this at a CPU-only wheel index to avoid the multi-GB CUDA build of torch.
ARG PIP_EXTRA_INDEX_URL=""
WORKDIR /app
COPY . /app
RUN pip install --no-cache-dir "torch==2.13.0" \
    && pip install --no-cache-dir ".[offline-models,openai-whisper,neo4j,langchain]" \
    && pip install --no-cache-dir --no-deps resemblyzer==0.1.4
ENV CASTGRAPH_DATA_DIR=/data
VOLUME /data
ENTRYPOINT ["castgraph"]
# Every interface, so it needs the key: `docker run -e CASTGRAPH_API_KEY=… -p 8000:8000 …`.
# Without CASTGRAPH_API_KEY, serve refuses to start (exit 2) instead of exposing writes.
CMD ["serve", "--host", "0.0.0.0"]
