# Airflow image of the multi-machine deployment: same lock files as the local stack's venvs.
FROM python:3.11-slim-bookworm
ENV PYTHONDONTWRITEBYTECODE=1 PIP_NO_CACHE_DIR=1 DBT_SEND_ANONYMOUS_USAGE_STATS=False GX_ANALYTICS_ENABLED=False
RUN useradd --create-home --uid 50000 airflow
COPY requirements/airflow.lock.txt requirements/dbt.lock.txt /opt/chiso/requirements/
RUN python -m venv /opt/venvs/airflow && /opt/venvs/airflow/bin/pip install -r /opt/chiso/requirements/airflow.lock.txt \
 && python -m venv /opt/venvs/dbt && /opt/venvs/dbt/bin/pip install -r /opt/chiso/requirements/dbt.lock.txt
COPY pyproject.toml README.md /opt/chiso/
COPY src /opt/chiso/src
COPY dags /opt/chiso/dags
COPY dbt_project /opt/chiso/dbt_project
COPY seeds /opt/chiso/seeds
COPY expectations /opt/chiso/expectations
RUN /opt/venvs/airflow/bin/pip install --no-deps /opt/chiso
ENV PATH=/opt/venvs/airflow/bin:$PATH \
    AIRFLOW__CORE__DAGS_FOLDER=/opt/chiso/dags \
    CHISO_DBT_PROJECT_DIR=/opt/chiso/dbt_project \
    CHISO_DBT_EXECUTABLE=/opt/venvs/dbt/bin/dbt
USER airflow
WORKDIR /opt/chiso
