"""spatialrep: learning robust spatial audio representations.

The pipeline runs one way: ``simulate`` → ``data`` → ``features`` → ``models`` → ``methods`` → ``evaluate``.
Angles are radians inside the library and degrees only at its edges (CLI, CSV, SOFA); see
:mod:`spatialrep.geometry.coordinates` for the one definition of azimuth, elevation and distance.
"""

__version__ = "0.1.0"
