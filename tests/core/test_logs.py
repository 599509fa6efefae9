"""Every logger of assetflow, and Prefect's run loggers, redact what they record."""

from __future__ import annotations

import importlib
import logging
import pkgutil

from core.logs import ROOT, THIRD_PARTY, install_redaction
from core.redact import RedactUrlsFilter

PACKAGES = ("api", "core", "tasks", "flows", "storage", "models", "deployments")


def _import_everything() -> None:
    for package in PACKAGES:
        for module in pkgutil.walk_packages(
            importlib.import_module(package).__path__, f"{package}."
        ):
            if ".migrations" not in module.name:
                importlib.import_module(module.name)


def test_every_logger_that_may_see_a_source_redacts() -> None:
    _import_everything()
    install_redaction()  # what importing the flows package did; as a second call, a no-op
    loggers = {
        name: logger
        for name, logger in logging.Logger.manager.loggerDict.items()
        if isinstance(logger, logging.Logger)
    }

    # A module logger outside "assetflow." (logging.getLogger(__name__)) would
    # not be handed out by core.logs.get_logger, nor get its filter.
    assert not [name for name in loggers if name.split(".")[0] in PACKAGES]
    ours = [name for name in loggers if name == ROOT or name.startswith(f"{ROOT}.")]
    assert f"{ROOT}.fetch" in ours
    for name in (*ours, *THIRD_PARTY):
        filters = logging.getLogger(name).filters
        assert sum(isinstance(f, RedactUrlsFilter) for f in filters) == 1, name
