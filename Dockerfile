# A slim image that serves the API on SQLite by default (mount a volume at /var/lib/health-content),
# or on PostgreSQL when DATABASE_URL says so.
FROM python:3.11-slim AS build
WORKDIR /src
COPY pyproject.toml README.md LICENSE ./
COPY app ./app
RUN pip install --no-cache-dir --prefix=/install .

FROM python:3.11-slim
ENV PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1 \
    DATABASE_URL=sqlite:////var/lib/health-content/health-content.db \
    DATA_DIR=/app/data
RUN useradd --system --uid 10001 --home-dir /app app \
    && mkdir -p /var/lib/health-content && chown app /var/lib/health-content
COPY --from=build /install /usr/local
WORKDIR /app
COPY --chown=app alembic.ini ./
COPY --chown=app app ./app
COPY --chown=app migrations ./migrations
COPY --chown=app data ./data
USER app
EXPOSE 8000
VOLUME ["/var/lib/health-content"]
HEALTHCHECK --interval=30s --timeout=3s --start-period=20s --retries=3 \
    CMD python -c "import urllib.request,sys; sys.exit(urllib.request.urlopen('http://127.0.0.1:8000/healthz', timeout=2).status != 200)"
CMD ["python", "-m", "app", "serve", "--host", "0.0.0.0", "--port", "8000"]
