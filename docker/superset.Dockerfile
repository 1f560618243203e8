# Superset image of the multi-machine deployment: Superset needs SQLAlchemy < 2, hence its own env.
FROM python:3.11-slim-bookworm
ENV PYTHONDONTWRITEBYTECODE=1 PIP_NO_CACHE_DIR=1
RUN useradd --create-home --uid 50001 superset
COPY requirements/superset.lock.txt /opt/chiso/requirements/
RUN python -m venv /opt/venvs/superset && /opt/venvs/superset/bin/pip install -r /opt/chiso/requirements/superset.lock.txt
COPY superset /opt/chiso/superset
# Superset ships no Vietnamese: the repo's language packs go into its translations folder (as `make` does).
RUN /opt/venvs/superset/bin/python /opt/chiso/superset/translations/build.py install
ENV PATH=/opt/venvs/superset/bin:$PATH SUPERSET_CONFIG_PATH=/opt/chiso/superset/superset_config.py FLASK_APP=superset
USER superset
WORKDIR /opt/chiso
