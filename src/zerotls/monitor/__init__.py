"""``zerotls.monitor``: learn normal connection behaviour from logs and flag unusual egress.

Logs (zerotls audit events, Zeek conn.log and ssl.log, flow CSV, Parquet) are normalized
into one event schema (:mod:`~zerotls.monitor.schema`) by DuckDB's own readers
(:mod:`~zerotls.monitor.readers`) and kept in an embedded DuckDB file that is ingested
incrementally and idempotently (:mod:`~zerotls.monitor.store`). Detection reduces the events
to small feature tables in SQL (:mod:`~zerotls.monitor.features`), runs pure detectors over
them as Arrow (:mod:`~zerotls.monitor.detectors`), adds evidence, applies the allowlist
(:mod:`~zerotls.monitor.allowlist`) and combines the detectors' ranks into one severity
(:mod:`~zerotls.monitor.alerts`, :mod:`~zerotls.monitor.engine`). Reports are text, JSON or
a self-contained HTML page (:mod:`~zerotls.monitor.report`); :mod:`~zerotls.monitor.follow`
tails a live log.

Importing this package imports nothing heavy; the modules above need the optional
dependencies (``pip install 'zerotls[monitor]'``). See docs/monitor.md.
"""
