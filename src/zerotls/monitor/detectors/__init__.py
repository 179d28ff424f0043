"""Detectors: pure functions from feature tables (Arrow) to alerts with their evidence.

Each detector takes the small tables that features.py computed for a window, never the raw
events, and returns a :class:`Scored`: the alerts it raises and the scores of *every*
candidate it judged (the population its alerts are ranked in). None reads a clock, a file or
the store, so each can be tested on a handful of crafted rows, and run on Spark per group.

Each one alone is noisy, so each is built to be explained and to discount the benign look-alikes
it is known for:

- **new destination**: weighted by how many identities already reached the destination in
  the baseline (an org-wide service is not news) and by how often the identity adds new
  destinations anyway (a browser does, a database client does not);
- **volume spike**: robust z-score (median and MAD, in log bytes) of bytes out per hour and of
  the out/in ratio, against the same hour of the week, else of the day, else all hours;
- **beacon**: RITA's scores (Bowley skew and MADM of the gaps, connection count against the
  span, size skew, MADM and smallness, plus duration and hourly coverage), multiplied down
  for destinations many identities reach (update checks, NTP, telemetry);
- **long connection**, **probing** (bursts of denied / failed handshakes / refused
  connections), **legacy TLS** and weak or rare ciphers;
- **outlier**: IsolationForest per identity group over hourly features, with a fixed seed,
  explained by the features furthest from the group's median.
"""

# One module per detector, over the helpers they share (_common); nothing here but the
# re-exports, so that `from zerotls.monitor import detectors` and `detectors.X` work as before.
# `probing` and `legacy_tls` are both a module and its detector function: the imports below
# bind the package attributes to the functions, which is what `detectors.probing(...)` calls.

from __future__ import annotations

from zerotls.monitor.detectors._common import HOUR as HOUR
from zerotls.monitor.detectors._common import OUTSIDE_WEIGHT as OUTSIDE_WEIGHT
from zerotls.monitor.detectors._common import Scored
from zerotls.monitor.detectors._common import is_local_broadcast as is_local_broadcast
from zerotls.monitor.detectors._common import is_outside as is_outside
from zerotls.monitor.detectors._common import popularity_factor as popularity_factor
from zerotls.monitor.detectors.beacon import beacon_scores as beacon_scores
from zerotls.monitor.detectors.beacon import beacons, bowley_skew
from zerotls.monitor.detectors.fan_out import fan_out
from zerotls.monitor.detectors.legacy_tls import WEAK_CIPHER_MARKERS as WEAK_CIPHER_MARKERS
from zerotls.monitor.detectors.legacy_tls import legacy_tls
from zerotls.monitor.detectors.long_connection import long_connections
from zerotls.monitor.detectors.new_destination import new_destinations
from zerotls.monitor.detectors.outlier import FEATURES as FEATURES
from zerotls.monitor.detectors.outlier import identity_group, outliers
from zerotls.monitor.detectors.probing import probing
from zerotls.monitor.detectors.volume_spike import EPOCH_WEEKDAY_OFFSET as EPOCH_WEEKDAY_OFFSET
from zerotls.monitor.detectors.volume_spike import WEEK_HOURS as WEEK_HOURS
from zerotls.monitor.detectors.volume_spike import destination_spikes, volume_spikes

__all__ = [
    "Scored",
    "beacons",
    "bowley_skew",
    "destination_spikes",
    "identity_group",
    "is_local_broadcast",
    "legacy_tls",
    "long_connections",
    "new_destinations",
    "outliers",
    "probing",
    "fan_out",
    "volume_spikes",
]
