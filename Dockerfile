# collapse bench, pinned for GPU runs: `docker build -t bench .` then
#   docker run --gpus all -v "$PWD/results:/app/results" bench suites/fresh_mix.yaml
#   docker run -v "$PWD/results:/app/results" bench leaderboard
# Build with the commit recorded: docker build --build-arg GIT_COMMIT="$(git rev-parse HEAD)" -t bench .
# See docs/container.md for the why of each pin.

# PyTorch's official CUDA runtime image for torch 2.13.0 (CUDA 12.6, cuDNN 9; Ubuntu 24.04, system Python 3.12,
# torch 2.13.0+cu126 in /usr/local). The digest pins the exact bytes (single-arch linux/amd64 image); the tag
# is kept for readers. CUDA 12.6 rather than 13.x: it runs on drivers >= 560 (older ones via the
# forward-compat package), which covers more self-hosted GPU runners.
FROM pytorch/pytorch:2.13.0-cuda12.6-cudnn9-runtime@sha256:6acf597eeb8e376a96580dde4952f37cc017fef732bb40bfc73f28f25e3f64b4

# The base marks its Python as externally managed (PEP 668); our packages go to /usr/local beside the
# base's own torch, and nothing apt manages is touched, so overriding that marker is safe here.
# Runs are offline and self-contained (models train from scratch), so the Hugging Face libraries must never
# reach for the Hub. HOME and the caches live in a world-writable folder because the nightly job runs the
# container as the runner's own uid, so that the files it writes to the mounted results/ stay the runner's.
ENV PIP_BREAK_SYSTEM_PACKAGES=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    HF_HUB_OFFLINE=1 \
    TRANSFORMERS_OFFLINE=1 \
    HF_DATASETS_OFFLINE=1 \
    HF_HUB_DISABLE_TELEMETRY=1 \
    HOME=/tmp/bench-home \
    HF_HOME=/tmp/bench-home/huggingface \
    MPLCONFIGDIR=/tmp/bench-home/matplotlib \
    TRITON_CACHE_DIR=/tmp/bench-home/triton \
    MPLBACKEND=Agg

WORKDIR /app

# Dependencies first, so editing the code does not reinstall them. requirements-py312.lock is the complete, exact
# runtime set for this Python, every file hash-checked (--require-hashes), installed --no-deps; it leaves torch out,
# so the base's 2.13.0+cu126 (with its nvidia-* and triton) stays. setuptools is in it: torch declares
# setuptools>=77.0.3, which `pip check` holds the base to. The base ships `spin` (a build helper we never use) whose
# click pin clashes with the lock's; drop it so `pip check` can vouch for the whole environment.
COPY requirements-py312.lock ./
RUN python -m pip uninstall --yes spin \
    && python -m pip install --no-cache-dir --no-deps --require-hashes --requirement requirements-py312.lock \
    && python -m pip check \
    && python -c "import torch; assert torch.__version__.startswith('2.13.0'), torch.__version__; \
assert torch.version.cuda, 'CPU torch replaced the CUDA build'; print('torch', torch.__version__, torch.version.cuda)"

# The project itself, without its dependencies (all installed above, from the lock); built with the locked
# setuptools (--no-build-isolation), so nothing unpinned is fetched for the build either.
COPY pyproject.toml README.md LICENSE ./
COPY bench ./bench
RUN python -m pip install --no-cache-dir --no-deps --no-build-isolation . \
    && bench --help > /dev/null

COPY suites ./suites

# A fixed non-root user; results/ belongs to it, so a named volume is writable out of the box.
RUN groupadd --gid 10001 bench \
    && useradd --uid 10001 --gid 10001 --no-create-home --home-dir /tmp/bench-home --shell /usr/sbin/nologin bench \
    && mkdir -p /app/results /tmp/bench-home \
    && chown bench:bench /app/results \
    && chmod 1777 /tmp/bench-home
USER 10001:10001

# Last, so that a new commit rebuilds only these metadata layers. `bench run` records BENCH_GIT_COMMIT as the run's
# git commit (there is no .git in the image); docker build --build-arg GIT_COMMIT="$(git rev-parse HEAD)" .
ARG GIT_COMMIT=""
ARG VERSION="0.1.0"
LABEL org.opencontainers.image.title="collapse-bench" \
      org.opencontainers.image.description="A benchmark harness for self-consuming training loops, pinned for GPU runs." \
      org.opencontainers.image.licenses="MIT" \
      org.opencontainers.image.version="${VERSION}" \
      org.opencontainers.image.revision="${GIT_COMMIT}" \
      org.opencontainers.image.base.name="docker.io/pytorch/pytorch:2.13.0-cuda12.6-cudnn9-runtime" \
      org.opencontainers.image.base.digest="sha256:6acf597eeb8e376a96580dde4952f37cc017fef732bb40bfc73f28f25e3f64b4"
# BENCH_REQUIRE_GPU=1: `bench run` refuses to train when no CUDA device is visible (exit 2), unless --allow-cpu.
ENV BENCH_GIT_COMMIT="${GIT_COMMIT}" \
    BENCH_REQUIRE_GPU=1

VOLUME /app/results
ENTRYPOINT ["bench"]
CMD ["suites/smoke.yaml"]
