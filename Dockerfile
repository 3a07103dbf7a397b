# Conveyor: one image for every mode. The default command is the embedded mode (SQLite +
# in-process delivery); compose.yaml runs the same image as `conveyor gateway` and
# `conveyor consumer` for the distributed mode.
#   docker build -t conveyor . && docker run -p 8080:8080 conveyor
FROM python:3.12-slim

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1

# A fixed non-root user; /data is its only writable place (the embedded SQLite database and
# the signing secret `serve` generates beside it).
RUN useradd --system --uid 10001 --user-group --home-dir /app --no-create-home conveyor \
    && mkdir -p /data \
    && chown conveyor:conveyor /data

WORKDIR /app

# Only what `pip install .` needs (README.md is pyproject's `readme`).
COPY pyproject.toml README.md LICENSE ./
COPY conveyor ./conveyor
COPY gateway ./gateway
COPY consumer ./consumer
COPY shared ./shared
RUN pip install --no-cache-dir . \
    && rm -rf build ./*.egg-info

# The example queue definitions and handlers, as defaults; mount your own over /app/handlers.
COPY handlers /app/handlers

ENV CONVEYOR_HANDLERS=/app/handlers \
    CONVEYOR_STORE=sqlite:////data/conveyor.db

USER conveyor
EXPOSE 8080
ENTRYPOINT ["conveyor"]
CMD ["serve", "--host", "0.0.0.0"]
