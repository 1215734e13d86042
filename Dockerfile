FROM python:3.11-slim
WORKDIR /srv/ferry
COPY pyproject.toml README.md gunicorn.conf.py ./
COPY app ./app
COPY workers ./workers
RUN pip install --no-cache-dir .
ENV FERRY_DATA_DIR=/data
EXPOSE 8000
CMD ["gunicorn", "-b", "0.0.0.0:8000", "-w", "2", "--threads", "8", "app:create_app()"]
