# cunet in a container, installed the way `make install` does it (venv + editable install + ffmpeg).
#   docker build -t cunet .                      # CPU TensorFlow
#   docker build -t cunet --build-arg TF=gpu .   # NVIDIA GPUs: tensorflow[and-cuda]
#   docker run --rm -v "$PWD:/data" cunet separate /data/song.mp3 --instrument vocals --out-dir /data/out
FROM python:3.11-slim

ARG TF=cpu
RUN apt-get update && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends \
        ffmpeg make && rm -rf /var/lib/apt/lists/*

WORKDIR /opt/cunet
COPY . .
RUN make install \
    && if [ "$TF" = gpu ]; then .venv/bin/pip install --quiet 'tensorflow[and-cuda]>=2.17,<2.22'; fi

ENV PATH=/opt/cunet/.venv/bin:$PATH
ENTRYPOINT ["cunet"]
CMD ["--help"]
