"""The Prefect flows of assetflow and what they are made of. Read in this order:

ingest.py       the ingest-asset flow: one source; ``ingest()`` runs it in this process
pipeline.py     one ingest: fetch, sniff, store, record the original, run the recipe
jobs.py         a job's life, for ingest and reprocess: written, started, ended with its asset
run_states.py   how a run ends in the Prefect UI: Failed, with the sentence, when it failed
recipes.py      the steps per kind of asset, as a table; current steps skipped, one probe
runtime.py      how a step runs (its own task run, or inline) and retries (one policy)
fetch_store.py, derive_image.py, derive_video.py, derive_audio.py    the steps
batch.py        the batch-ingest flow: a manifest, its skipped items, the summary
fanout.py       the batch's items to task runs, a bounded number in flight
reprocess.py    the reprocess-asset flow: a (new) recipe on stored originals
hooks.py, reconcile.py    jobs follow the runs that died without ending them
"""

from core.logs import install_redaction

# Before any run logs: the run loggers' records (tracebacks included) are redacted.
install_redaction()
